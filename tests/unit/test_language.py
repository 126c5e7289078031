"""Which language and Chinese script the assistant answers in."""

from __future__ import annotations

import pytest

from actions.slots import choose_language
from bot.language import detect_language


@pytest.mark.parametrize(
    "text, expected",
    [
        ("我的洗衣机坏了，要求退款", "zh-Hans"),
        ("我要投诉，快递三天了还没到", "zh-Hans"),
        ("谢谢", "zh-Hans"),
        ("我的洗衣機壞了，要求退款", "zh-Hant"),
        ("投訴", "zh-Hant"),
        ("謝謝", "zh-Hant"),
        # Cantonese: characters shared by both scripts, written only in HK usage
        ("部雪櫃壞咗，點算", "zh-Hant"),
        ("唔該", "zh-Hant"),
        ("冇", "zh-Hant"),
        ("佢哋收咗我錢", "zh-Hant"),
        ("My washing machine broke after two days", "en"),
        ("ok", "en"),
        # Mixed: Chinese decides the script
        ("我的order ZZ555666还没到", "zh-Hans"),
        ("my 訂單 still not here", "zh-Hant"),
        ("refund 咗未？", "zh-Hant"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["13812345678", "?!", "   ", "", "123 456", "😡😡😡"])
def test_no_words_means_no_language(text: str) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize("text", ["你好", "好", "我要"])
def test_characters_shared_by_both_scripts_are_ambiguous(text: str) -> None:
    assert detect_language(text) == "zh"


@pytest.mark.parametrize("current", ["zh-Hans", "zh-Hant"])
def test_ambiguous_chinese_keeps_the_current_script(current: str) -> None:
    assert choose_language(detect_language("你好"), current) == current


@pytest.mark.parametrize("current", ["en", None])
def test_ambiguous_chinese_from_english_defaults_to_simplified(current) -> None:
    assert choose_language("zh", current) == "zh-Hans"


def test_clear_script_switches_language() -> None:
    assert choose_language(detect_language("謝謝"), "zh-Hans") == "zh-Hant"
    assert choose_language(detect_language("谢谢"), "zh-Hant") == "zh-Hans"
    assert choose_language(detect_language("thank you"), "zh-Hant") == "en"


def test_no_language_changes_nothing() -> None:
    assert choose_language(detect_language("13812345678"), "zh-Hant") is None
    assert choose_language("fr", "en") is None
