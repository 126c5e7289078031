"""Settings for the action server, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Everything configurable about complaint handling."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "northwind"
    response_hours: int = 24
    urgent_response_hours: int = 4
    status_attempts_per_hour: int = 5

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from REDIS_URL, REDIS_KEY_PREFIX and COMPLAINT_* variables."""
        defaults = cls()
        return cls(
            redis_url=os.environ.get("REDIS_URL", defaults.redis_url),
            key_prefix=os.environ.get("REDIS_KEY_PREFIX", defaults.key_prefix),
            response_hours=int(os.environ.get("COMPLAINT_RESPONSE_HOURS", defaults.response_hours)),
            urgent_response_hours=int(
                os.environ.get("COMPLAINT_URGENT_RESPONSE_HOURS", defaults.urgent_response_hours)
            ),
            status_attempts_per_hour=int(
                os.environ.get("STATUS_ATTEMPTS_PER_HOUR", defaults.status_attempts_per_hour)
            ),
        )
