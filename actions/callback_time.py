"""Read a callback time the customer typed ("tomorrow 10am", "明天上午十点", "聽日下晝三點") (pure logic).

Understood: a day word (today / tomorrow / the day after, in the three languages),
a part of the day (am/pm, morning, 上午, 下午, 下晝, 晚上, ...), a clock time
(10am, 3:30 pm, 15:00, 十点半, 3點15分), or a delay ("in 2 hours", "两个小时后",
"半個鐘之後"). A bare hour from 1 to 7 without a part of the day means the afternoon
or evening (nobody asks for a call at 3 at night). Anything else gives None, so the
assistant asks again with an example.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Optional, Tuple

_CN_DIGITS = {
    "零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}
_CN_NUMBER = r"[零一二两兩三四五六七八九十]+"
_NUMBER = rf"(?:\d+|{_CN_NUMBER})"
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}

_DAY_WORDS: Tuple[Tuple[str, int], ...] = (
    (r"day after tomorrow|后天|後天", 2),
    (r"tomorrow|tmr|tmrw|明天|明日|聽日|听日|明早|聽朝", 1),
    (r"today|tonight|this (?:morning|afternoon|evening)|今天|今日|今晚|今早|而家|今朝", 0),
)
_AM = re.compile(r"\bam\b|a\.m\.|morning|上午|早上|早晨|朝早|明早|今早|聽朝|今朝|上晝|凌晨|半夜")
_PM = re.compile(r"\bpm\b|p\.m\.|afternoon|evening|tonight|下午|下晝|晏晝|晚上|夜晚|今晚|傍晚|深夜|晚")
_NOON = re.compile(r"noon|中午|晏晝")
# A default hour when only a part of the day is given ("tomorrow morning").
_PART_DEFAULTS = ((re.compile(r"morning|上午|早上|朝早|明早|聽朝|今早"), 10),
                  (re.compile(r"noon|中午"), 12),
                  (re.compile(r"afternoon|下午|下晝|晏晝"), 15),
                  (re.compile(r"evening|tonight|晚上|今晚|夜晚|傍晚"), 19))

_RELATIVE_EN = re.compile(
    r"\bin\s+(\d+|an?|one|two|three|four|five|six|half an?)\s*(hours?|hrs?|h|minutes?|mins?)\b"
)
_RELATIVE_ZH = re.compile(
    rf"({_NUMBER}|半)\s*(?:个|個)?\s*(半)?\s*(小时|小時|钟头|鐘頭|鐘|钟|分钟|分鐘)\s*(?:之?后|之?後|以后|以後)"
)
_CLOCK = re.compile(r"(?<!\d)([01]?\d|2[0-3])\s*[:：.]\s*([0-5]\d)(?!\d)")
_EN_HOUR = re.compile(r"(?<![\d:：.])(\d{1,2})\s*(?:o'?clock)?\s*(am|pm|a\.m\.|p\.m\.)")
_AT_HOUR = re.compile(r"\bat\s+(\d{1,2})\b")
_ZH_HOUR = re.compile(rf"({_NUMBER})\s*(?:点|點|时|時)(?:\s*(半|{_NUMBER})\s*(?:分)?)?")


def chinese_number(text: str) -> Optional[int]:
    """An integer from digits or Chinese numerals up to 99 (十, 十二, 二十五, 两)."""
    if text.isdigit():
        return int(text)
    if not text or any(char not in _CN_DIGITS and char != "十" for char in text):
        return None
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _, units = text.partition("十")
    ten_value = _CN_DIGITS.get(tens, -1) if tens else 1
    unit_value = _CN_DIGITS.get(units, -1) if units else 0
    if ten_value < 0 or unit_value < 0:
        return None
    return ten_value * 10 + unit_value


def parse_callback_time(text: str, now: datetime) -> Optional[datetime]:
    """The moment the customer means, in now's time zone; None when it is unclear or already past."""
    cleaned = unicodedata.normalize("NFKC", text).lower().strip()
    relative = _relative(cleaned)
    if relative is not None:
        return (now + relative).replace(second=0, microsecond=0)
    day_offset = _day_offset(cleaned)
    clock = _clock(cleaned)
    if clock is None:
        return None
    moment = now.replace(hour=clock[0], minute=clock[1], second=0, microsecond=0)
    moment += timedelta(days=day_offset or 0)
    if moment <= now:
        if day_offset is not None:
            return None  # "today 9am" when it is already noon
        moment += timedelta(days=1)  # "10am" said in the evening means tomorrow
    return moment


def _relative(text: str) -> Optional[timedelta]:
    """A delay like "in 2 hours" or "三个小时后"."""
    match = _RELATIVE_EN.search(text)
    if match:
        amount_text, unit = match.groups()
        amount = 0.5 if amount_text.startswith("half") else _WORD_NUMBERS.get(amount_text) or int(amount_text)
        return timedelta(minutes=amount) if unit.startswith("m") else timedelta(hours=amount)
    match = _RELATIVE_ZH.search(text)
    if match:
        amount_text, half, unit = match.groups()
        whole = 0 if amount_text == "半" else chinese_number(amount_text)
        if whole is None:
            return None
        amount = whole + (0.5 if half or amount_text == "半" else 0)
        return timedelta(minutes=amount) if unit.startswith("分") else timedelta(hours=amount)
    return None


def _day_offset(text: str) -> Optional[int]:
    """0 for today, 1 for tomorrow, 2 for the day after; None when no day is named."""
    for pattern, offset in _DAY_WORDS:
        if re.search(pattern, text):
            return offset
    return None


def _clock(text: str) -> Optional[Tuple[int, int]]:
    """Hour and minute on a 24-hour clock, from the time and the part of the day."""
    hour_minute = _find_time(text)
    if hour_minute is None:
        for pattern, default in _PART_DEFAULTS:
            if pattern.search(text):
                return default, 0
        return None
    hour, minute, explicit_period = hour_minute
    if hour > 23 or minute > 59:
        return None
    if hour <= 12 and explicit_period is None:
        if (_NOON.search(text) and hour <= 2) or (_PM.search(text) and hour < 12):
            hour += 12
        elif _AM.search(text):
            hour = 0 if hour == 12 else hour
        elif 1 <= hour <= 7:
            hour += 12
    elif explicit_period == "pm" and hour < 12:
        hour += 12
    elif explicit_period == "am" and hour == 12:
        hour = 0
    return hour, minute


def _find_time(text: str) -> Optional[Tuple[int, int, Optional[str]]]:
    """The clock time written in the text, with "am"/"pm" when it was written next to it."""
    match = _EN_HOUR.search(text)
    if match:
        return int(match.group(1)), 0, "pm" if match.group(2).startswith("p") else "am"
    match = _CLOCK.search(text)
    if match:
        period = re.search(r"\s*(am|pm|a\.m\.|p\.m\.)", text[match.end():match.end() + 6])
        explicit = None if period is None else ("pm" if period.group(1).startswith("p") else "am")
        return int(match.group(1)), int(match.group(2)), explicit
    match = _ZH_HOUR.search(text)
    if match:
        hour = chinese_number(match.group(1))
        minute_text = match.group(2)
        minute = 30 if minute_text == "半" else chinese_number(minute_text) if minute_text else 0
        if hour is None or minute is None:
            return None
        return hour, minute, None
    match = _AT_HOUR.search(text)
    if match:
        return int(match.group(1)), 0, None
    return None
