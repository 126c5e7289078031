"""Detect the customer's language and Chinese script from one message (pure logic)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Optional, Tuple

import opencc

EN = "en"
ZH_HANS = "zh-Hans"
ZH_HANT = "zh-Hant"
ZH_UNKNOWN_SCRIPT = "zh"
LANGUAGES = (EN, ZH_HANS, ZH_HANT)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Order numbers, case numbers, emails and links say nothing about the customer's language.
_IDENTIFIERS = re.compile(r"\S+@\S+|https?://\S+|\b[A-Za-z]*-?\d[\w-]*")
# Written Cantonese characters that are identical in both scripts but only used in
# Hong Kong (Traditional) writing; they settle messages like "唔該" or "冇".
_CANTONESE_MARKERS = frozenset("唔冇嘅咗啲喺嚟乜嘢咁噉佢哋畀俾攞揾搵嬲啱咪")


@lru_cache(maxsize=1)
def _script_only_characters() -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """Characters used only in Simplified, and only in Traditional, per OpenCC's tables."""
    folder = Path(opencc.__file__).parent / "dictionary"
    return (
        _keys_not_mapped_to_themselves(folder / "STCharacters.txt"),
        _keys_not_mapped_to_themselves(folder / "TSCharacters.txt"),
    )


def _keys_not_mapped_to_themselves(table: Path) -> FrozenSet[str]:
    """Read an OpenCC character table and keep keys whose variants differ from them."""
    keys = set()
    for line in table.read_text(encoding="utf-8").splitlines():
        key, _, variants = line.partition("\t")
        if key and key not in variants.split():
            keys.add(key)
    return frozenset(keys)


def detect_language(text: str) -> Optional[str]:
    """Return en, zh-Hans, zh-Hant, zh (Chinese, script unclear) or None (no words)."""
    cjk = _CJK.findall(text)
    if not cjk:
        return EN if _LATIN_WORD.search(_IDENTIFIERS.sub(" ", text)) else None
    simplified_only, traditional_only = _script_only_characters()
    simplified = sum(1 for char in cjk if char in simplified_only)
    traditional = sum(
        1 for char in cjk if char in traditional_only or char in _CANTONESE_MARKERS
    )
    if traditional > simplified:
        return ZH_HANT
    if simplified > traditional:
        return ZH_HANS
    return ZH_UNKNOWN_SCRIPT
