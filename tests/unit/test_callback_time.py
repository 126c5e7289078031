"""The callback time parser: what customers type in three languages, at a fixed moment."""

from __future__ import annotations

from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

import pytest

from actions.callback_time import chinese_number, parse_callback_time

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 14, 5, tzinfo=ZONE)  # a Monday afternoon


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ZONE)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("tomorrow 10am", at(24, 10)),
        ("Tomorrow at 3", at(24, 15)),
        ("tomorrow morning", at(24, 10)),
        ("tmr 4:30 pm", at(24, 16, 30)),
        ("10 am tomorrow", at(24, 10)),
        ("today 5pm", at(23, 17)),
        ("3:30 pm", at(23, 15, 30)),
        ("15:00", at(23, 15)),
        ("10am", at(24, 10)),  # already past today, so tomorrow
        ("in 2 hours", at(23, 16, 5)),
        ("in an hour please", at(23, 15, 5)),
        ("in 30 minutes", at(23, 14, 35)),
        ("day after tomorrow 11am", at(25, 11)),
        ("明天上午十点", at(24, 10)),
        ("明天下午3点半", at(24, 15, 30)),
        ("明日下午三點", at(24, 15)),
        ("今天晚上八点", at(23, 20)),
        ("两个小时后", at(23, 16, 5)),
        ("30分钟后", at(23, 14, 35)),
        ("后天10:00", at(25, 10)),
        ("聽日下晝三點", at(24, 15)),
        ("聽日晏晝兩點", at(24, 14)),
        ("聽朝十點", at(24, 10)),
        ("半個鐘之後", at(23, 14, 35)),
        ("一個半鐘後", at(23, 15, 35)),
        ("今日夜晚七點", at(23, 19)),
        ("明天４点", at(24, 16)),  # full-width digit; a bare 4 o'clock means the afternoon
    ],
)
def test_understood_times(text: str, expected: datetime) -> None:
    assert parse_callback_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["whenever", "asap", "明天", "唔知", "today 9am", "25:00", "call me maybe", ""])
def test_unclear_or_past_times_give_none(text: str) -> None:
    assert parse_callback_time(text, NOW) is None


@pytest.mark.parametrize(
    "text, value",
    [("十", 10), ("十二", 12), ("二十五", 25), ("两", 2), ("兩", 2), ("7", 7), ("十十", None), ("", None)],
)
def test_chinese_numbers(text: str, value: Optional[int]) -> None:
    assert chinese_number(text) == value
