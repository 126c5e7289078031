"""Process-wide objects the actions share, created on first use (nothing happens at import)."""

from __future__ import annotations

from functools import lru_cache

from actions.case_store import CaseStore
from actions.settings import Settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this action server process."""
    return Settings.from_env()


@lru_cache(maxsize=1)
def case_store() -> CaseStore:
    """The case store of this action server process."""
    return CaseStore.from_settings(settings())
