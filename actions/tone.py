"""How upset a message sounds, from plain text cues (pure logic).

A stand-in until the frustration model lands: it only decides between a calm and
an upset acknowledgement, it does not escalate anything.
"""

from __future__ import annotations

import re

UPSET_THRESHOLD = 0.5

_ANGRY_WORDS = re.compile(
    r"(ridiculous|unacceptable|disgusting|terrible|worst|furious|angry|useless|scam|"
    r"third time|again!|fed up|sick of|lawyer|sue|regulator|"
    r"太过分|过分|气死|垃圾|骗子|投诉你们|受够|第三次|又是|忍无可忍|12315|消协|"
    r"太過分|過分|氣死|騙子|受夠|消委會|嬲|激氣|離譜|离谱)",
    re.IGNORECASE,
)


def frustration_score(message: str) -> float:
    """A 0-1 score: angry words, repeated ! or ?, and shouting in capitals."""
    score = 0.0
    if _ANGRY_WORDS.search(message):
        score += 0.5
    if re.search(r"[!！?？]{2,}", message):
        score += 0.3
    letters = re.findall(r"[A-Za-z]", message)
    if len(letters) >= 8 and sum(char.isupper() for char in letters) / len(letters) > 0.7:
        score += 0.3
    return min(score, 1.0)


def is_upset(message: str) -> bool:
    """Whether the acknowledgement should be the short, direct one."""
    return frustration_score(message) >= UPSET_THRESHOLD
