"""Handoff settings from the environment."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from handoff.settings import HandoffSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_KEY_PREFIX", "HANDOFF_PORT", "HANDOFF_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    settings = HandoffSettings.from_env()
    assert settings == HandoffSettings()
    assert (settings.offer_timeout_s, settings.reconnect_grace_s, settings.session_ttl_s) == (30, 60, 8 * 3600)
    assert (settings.host, settings.port, settings.max_frame_bytes) == ("127.0.0.1", 8765, 65536)
    assert settings.default_handle_minutes == 6
    assert str(settings.zone()) == "Asia/Shanghai"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_KEY_PREFIX", "acme")
    monkeypatch.setenv("HANDOFF_PORT", "9000")
    monkeypatch.setenv("HANDOFF_OFFER_TIMEOUT_S", "12")
    monkeypatch.setenv("HANDOFF_TIMEZONE", "Europe/London")
    settings = HandoffSettings.from_env()
    assert (settings.key_prefix, settings.port, settings.offer_timeout_s) == ("acme", 9000, 12)
    monkeypatch.setenv("HANDOFF_TIMEZONE", "Mars/Olympus")
    with pytest.raises(Exception):  # noqa: B017 - zoneinfo raises its own error type
        HandoffSettings.from_env()


def test_business_hours_are_local_time() -> None:
    settings = HandoffSettings()
    at = lambda hour, minute=0: datetime(2031, 3, 4, hour, minute, tzinfo=timezone.utc)  # noqa: E731
    assert settings.is_open(at(1))  # 09:00 in Shanghai
    assert not settings.is_open(at(0, 59))  # 08:59 there
    assert settings.is_open(at(12, 59))  # 20:59
    assert not settings.is_open(at(13))  # 21:00, closed
    night = HandoffSettings(business_open="22:00", business_close="06:00", timezone="UTC")
    assert night.is_open(at(23)) and night.is_open(at(5)) and not night.is_open(at(12))
