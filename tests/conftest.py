"""Suite-wide ordering: browser tests run last."""

from __future__ import annotations

from typing import List

import pytest


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Playwright's sync API holds an event loop open; keep it away from asyncio tests."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.fspath))
