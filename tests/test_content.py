"""Tests for the content checker (scripts/validate_content.py and scripts/content_checks/).

Each test writes a tiny YAML file with one known problem and checks that the right check
reports it in words a content editor understands. No Rasa subprocess: these run in seconds.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from content_checks.alignment import check_alignment  # noqa: E402
from content_checks.examples import (  # noqa: E402
    check_cross_intent_duplicates,
    check_example_counts,
    check_holdout_leaks,
)
from content_checks.lookups import check_lookups  # noqa: E402
from content_checks.report import Finding  # noqa: E402
from content_checks.responses import check_response_files  # noqa: E402
from content_checks.yamlio import load_examples, nlu_files  # noqa: E402


def write(path: Path, text: str) -> Path:
    """Write a YAML file (dedented) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def errors(findings: List[Finding]) -> List[str]:
    """The messages of the ERROR findings."""
    return [f.message for f in findings if f.is_error]


def variant(language: str, text: str, extra: str = "") -> str:
    """One response variant in the repository's style."""
    return (
        f"  - condition:\n    - type: slot\n      name: language\n      value: {language}\n"
        f"    text: \"{text}\"\n{extra}"
    )


def responses_file(tmp_path: Path, *variants: str) -> Path:
    """A responses file with one response, utter_test, made of the given variants."""
    return write(tmp_path / "responses.yml", 'version: "3.1"\nresponses:\n  utter_test:\n' + "".join(variants))


def nlu_file(path: Path, blocks: str) -> Path:
    """An NLU training file with the given `- intent:` blocks."""
    return write(path, 'version: "3.1"\nnlu:\n' + textwrap.dedent(blocks).lstrip())


# --- responses ------------------------------------------------------------------------


def test_repository_responses_have_all_three_languages() -> None:
    """The real responses pass: every response has en, zh-Hans and zh-Hant, with matching placeholders."""
    found = check_response_files(nlu_files(ROOT / "bot" / "domain" / "responses"))
    assert errors(found) == []


def test_complete_response_passes(tmp_path: Path) -> None:
    """A correct three-language response gives no error (no false alarms)."""
    path = responses_file(
        tmp_path,
        variant("en", "Your case is {case_id}."),
        variant("zh-Hans", "您的编号是 {case_id}。"),
        variant("zh-Hant", "您的編號是 {case_id}。"),
    )
    assert errors(check_response_files([path])) == []


def test_missing_language_variant_is_an_error(tmp_path: Path) -> None:
    """A response without a zh-Hant variant is reported, naming the response and the language."""
    path = responses_file(tmp_path, variant("en", "Hello"), variant("zh-Hans", "您好"))
    messages = errors(check_response_files([path]))
    assert len(messages) == 1
    assert "utter_test" in messages[0] and "zh-Hant" in messages[0]


def test_variant_without_language_condition_is_an_error(tmp_path: Path) -> None:
    """A variant that has no language condition is reported."""
    path = responses_file(
        tmp_path,
        variant("en", "Hello"), variant("zh-Hans", "您好"), variant("zh-Hant", "您好"),
        '  - text: "Hi there"\n',
    )
    assert any("no language condition" in m for m in errors(check_response_files([path])))


def test_different_placeholders_are_an_error(tmp_path: Path) -> None:
    """A placeholder missing in one language (the customer would miss the case number) is reported."""
    path = responses_file(
        tmp_path,
        variant("en", "Your case is {case_id}."),
        variant("zh-Hans", "您的编号是 {case_id}。"),
        variant("zh-Hant", "您的投訴已提交。"),
    )
    messages = errors(check_response_files([path]))
    assert len(messages) == 1
    assert "zh-Hant" in messages[0] and "{case_id}" in messages[0]


def test_untranslated_chinese_variant_is_an_error(tmp_path: Path) -> None:
    """A Chinese variant written in English, or an English one in Chinese, is reported."""
    path = responses_file(
        tmp_path, variant("en", "您好"), variant("zh-Hans", "Hello {name}"), variant("zh-Hant", "您好 {name}"),
    )
    messages = " ".join(errors(check_response_files([path])))
    assert "English variant" in messages and "zh-Hans variant" in messages


def test_button_payloads_must_match(tmp_path: Path) -> None:
    """Translated buttons must keep the same payloads."""
    def buttons(title: str, payload: str) -> str:
        return f"    buttons:\n    - title: \"{title}\"\n      payload: '{payload}'\n"

    path = responses_file(
        tmp_path,
        variant("en", "Pick one", buttons("Billing", '/inform{{"category":"billing"}}')),
        variant("zh-Hans", "请选择", buttons("账单", '/inform{{"category":"billing"}}')),
        variant("zh-Hant", "請選擇", buttons("帳單", '/inform{{"category":"refund"}}')),
    )
    messages = errors(check_response_files([path]))
    assert len(messages) == 1 and "zh-Hant" in messages[0] and "buttons" in messages[0]


def test_html_in_a_response_is_flagged(tmp_path: Path) -> None:
    """HTML is shown literally to customers, so a tag in a reply gets a warning."""
    path = responses_file(
        tmp_path, variant("en", "Hello<br>there"), variant("zh-Hans", "您好"), variant("zh-Hant", "您好"),
    )
    found = check_response_files([path])
    assert errors(found) == []
    assert any("<br>" in f.message for f in found)


# --- training examples ------------------------------------------------------------------


def test_example_in_two_intents_names_both(tmp_path: Path) -> None:
    """The same example under two intents is an error that names both intents and both places."""
    first = nlu_file(tmp_path / "zh-Hant" / "complaints.yml", """
        - intent: complain
          examples: |
            - 我要[退款]{"entity": "category", "value": "refund"}
            - 送貨太慢
        """)
    second = nlu_file(tmp_path / "zh-Hant" / "faq.yml", """
        - intent: faq_refund_policy
          examples: |
            - 退款要幾耐
            -   我要退款
        """)
    examples, problems = load_examples([first, second])
    assert problems == []
    findings = check_cross_intent_duplicates(examples)
    assert len(findings) == 1 and findings[0].is_error
    message = findings[0].message
    assert "'complain'" in message and "'faq_refund_policy'" in message and "我要退款" in message
    assert "complaints.yml line 5" in message
    assert findings[0].path == second and findings[0].line == 6


def test_too_few_examples_is_an_error(tmp_path: Path) -> None:
    """An intent with fewer than 25 examples in a language folder is reported."""
    path = nlu_file(tmp_path / "en" / "chitchat.yml", """
        - intent: greet
          examples: |
            - hi
            - hello
        """)
    examples, _ = load_examples([path])
    messages = errors(check_example_counts(examples, ["greet"], languages=["en"]))
    assert len(messages) == 1 and "'greet'" in messages[0] and "only 2 en examples" in messages[0]


def test_misaligned_chinese_annotation_is_an_error(tmp_path: Path) -> None:
    """Marking half of a Chinese word ("退" of "退款") is reported with jieba's words; whole words pass."""
    path = nlu_file(tmp_path / "zh-Hans" / "complaints.yml", """
        - intent: complain
          examples: |
            - 我的[退]{"entity": "category", "value": "refund"}款一直没到账
            - 我的[退款]{"entity": "category", "value": "refund"}一直没到账
        """)
    examples, _ = load_examples([path])
    findings = check_alignment(examples)
    assert len(findings) == 1 and findings[0].is_error and findings[0].line == 5
    assert '"退"' in findings[0].message and "退款" in findings[0].message


def test_heldout_example_in_training_is_an_error(tmp_path: Path) -> None:
    """A held-out test example copied into the training data is reported at the training line."""
    training = nlu_file(tmp_path / "data" / "en" / "faq.yml", """
        - intent: faq_warranty
          examples: |
            - how long is the warranty
            - Is my  TV still under warranty?
        """)
    holdout = nlu_file(tmp_path / "holdout" / "en.yml", """
        - intent: faq_warranty
          examples: |
            - is my tv still under warranty?
            - does the warranty cover water damage
        """)
    trained, _ = load_examples([training])
    held, _ = load_examples([holdout])
    findings = check_holdout_leaks(trained, held)
    assert len(findings) == 1 and findings[0].is_error
    assert findings[0].path == training and findings[0].line == 6
    assert "held-out" in findings[0].message


# --- keyword lists ------------------------------------------------------------------------


def test_lookup_word_without_synonym_is_an_error(tmp_path: Path) -> None:
    """A keyword-list word in no synonym block is reported; the block's own name counts as covered."""
    path = write(tmp_path / "categories.yml", """
        version: "3.1"
        nlu:
        - lookup: category
          examples: |
            - billing
            - 账单
            - 快递
        - synonym: billing
          examples: |
            - 账单
        """)
    messages = errors(check_lookups([path]))
    assert len(messages) == 1 and '"快递"' in messages[0] and "synonym" in messages[0]


def test_word_in_two_synonym_blocks_is_an_error(tmp_path: Path) -> None:
    """A word that means two different things is reported."""
    path = write(tmp_path / "categories.yml", """
        version: "3.1"
        nlu:
        - lookup: category
          examples: |
            - 收费
        - synonym: billing
          examples: |
            - 收费
        - synonym: refund
          examples: |
            - 收费
        """)
    messages = errors(check_lookups([path]))
    assert len(messages) == 1 and "'billing'" in messages[0] and "'refund'" in messages[0]
