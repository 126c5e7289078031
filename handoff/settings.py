"""Settings for the handoff bridge and its state in Redis, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class HandoffSettings:
    """Everything configurable about handing conversations to people."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "northwind"
    offer_timeout_s: int = 30
    reconnect_grace_s: int = 60
    session_ttl_s: int = 8 * 3600
    # Used for wait estimates until enough cases have been resolved to measure.
    default_handle_minutes: float = 6.0
    business_open: str = "09:00"
    business_close: str = "21:00"
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = 8765
    max_frame_bytes: int = 64 * 1024

    @classmethod
    def from_env(cls) -> HandoffSettings:
        """Build settings from REDIS_URL, REDIS_KEY_PREFIX and HANDOFF_* variables."""
        d = cls()
        env = os.environ.get
        settings = cls(
            redis_url=env("REDIS_URL", d.redis_url),
            key_prefix=env("REDIS_KEY_PREFIX", d.key_prefix),
            offer_timeout_s=int(env("HANDOFF_OFFER_TIMEOUT_S", d.offer_timeout_s)),
            reconnect_grace_s=int(env("HANDOFF_RECONNECT_GRACE_S", d.reconnect_grace_s)),
            session_ttl_s=int(env("HANDOFF_SESSION_TTL_S", d.session_ttl_s)),
            default_handle_minutes=float(env("HANDOFF_DEFAULT_HANDLE_MINUTES", d.default_handle_minutes)),
            business_open=env("HANDOFF_BUSINESS_OPEN", d.business_open),
            business_close=env("HANDOFF_BUSINESS_CLOSE", d.business_close),
            timezone=env("HANDOFF_TIMEZONE", d.timezone),
            host=env("HANDOFF_HOST", d.host),
            port=int(env("HANDOFF_PORT", d.port)),
            max_frame_bytes=int(env("HANDOFF_MAX_FRAME_BYTES", d.max_frame_bytes)),
        )
        # Fail at start-up, not at the first customer, on a bad zone or hour.
        settings.zone()
        _clock(settings.business_open)
        _clock(settings.business_close)
        return settings

    def zone(self) -> ZoneInfo:
        """The time zone business hours are given in."""
        return ZoneInfo(self.timezone)

    def is_open(self, at: datetime) -> bool:
        """Whether agents are on duty at a moment (an aware datetime); closing time is excluded."""
        local = at.astimezone(self.zone()).time()
        opens, closes = _clock(self.business_open), _clock(self.business_close)
        if opens <= closes:
            return opens <= local < closes
        return local >= opens or local < closes  # hours that run past midnight


def _clock(value: str) -> time:
    """An "HH:MM" time of day."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
