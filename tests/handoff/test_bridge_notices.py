"""The bridge's pure parts: notices from the responses file, canned replies, the enriched case."""

from __future__ import annotations

import json

import pytest

from handoff.conversation_log import LogEntry
from handoff.enriched import build_case
from handoff.notices import DEFAULT_RESPONSES, LANGUAGES, Notices, fill, load_canned_replies
from handoff.queue import QueueEntry

REQUIRED = {
    "utter_agent_joined": {"agent_name": "Mei"},
    "utter_agent_left": {},
    "utter_case_resolved": {"case_id": "CMP-20261123-0042"},
    "utter_handed_back": {},
    "utter_ask_csat": {},
}


@pytest.mark.skipif(not DEFAULT_RESPONSES.exists(), reason="bot/domain/responses/handoff.yml not written yet")
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_the_real_responses_file_has_every_notice_in_every_language(name, language) -> None:
    notices = Notices(DEFAULT_RESPONSES)
    variants = notices.responses()[name]
    languages = {c["value"] for v in variants for c in v.get("condition", []) if c.get("name") == "language"}
    assert language in languages
    notice = notices.render(name, language, **REQUIRED[name])
    assert notice.text and "{" not in notice.text
    for value in REQUIRED[name].values():
        assert value in notice.text
    if name == "utter_ask_csat":
        assert len(notice.buttons) == 5
        assert all("{{" not in button["payload"] for button in notice.buttons)


def test_fallbacks(tmp_path) -> None:
    path = tmp_path / "handoff.yml"
    path.write_text(
        "responses:\n  utter_agent_joined:\n  - condition: [{type: slot, name: language, value: en}]\n"
        "    text: '{agent_name} joined'\n",
        encoding="utf-8",
    )
    notices = Notices(path)
    assert notices.render("utter_agent_joined", "zh-Hant", agent_name="Ann").text == "Ann joined"  # English
    assert "CMP-1" in notices.render("utter_case_resolved", "en", case_id="CMP-1").text  # built-in default
    missing = Notices(tmp_path / "absent.yml")
    assert missing.render("utter_agent_left", "en").text
    path.write_text("responses:\n  utter_agent_joined:\n  - text: 'hi {agent_name}'\n", encoding="utf-8")
    import os

    os.utime(path, (1, 1))  # a different modification time: the file is read again
    assert notices.render("utter_agent_joined", "zh-Hans", agent_name="Bo").text == "hi Bo"


def test_fill_is_safe() -> None:
    assert fill('/rate{{"rating":5}}', {}) == '/rate{"rating":5}'
    assert fill("{unknown} and {name}", {"name": "x"}) == "{unknown} and x"
    assert fill("{0} {a.b} {", {}) == "{0} {a.b} {"


def test_canned_replies_are_trilingual() -> None:
    replies = load_canned_replies()
    assert 6 <= len(replies) <= 8
    for code, texts in replies.items():
        assert set(texts) == set(LANGUAGES), code
        assert all(text.strip() for text in texts.values())


def test_enriched_case_defaults_when_the_action_server_wrote_little() -> None:
    entry = QueueEntry(case_id="CMP-20261123-0001", conversation_id="web-1", language="zh-Hans",
                       skills_needed="delivery", priority=70, emergency=True, enqueued_at=1_900_000_000.0)
    case = build_case({"description": "包裹没到", "contact": "a@b.cn", "frustration": "0.7",
                       "escalation_reasons": json.dumps(["frustration"]), "enriched": "{broken"},
                      entry, [LogEntry(id="1-0", author="customer", text="包裹没到", ts=1.0)])
    assert case["case_id"] == "CMP-20261123-0001" and case["conversation_id"] == "web-1"
    assert case["language"] == "zh-Hans" and case["category"] == "delivery"
    assert case["customer"] == {"contact": "a@b.cn", "value_tier": "standard", "past_cases": []}
    assert case["reasons"] == ["frustration"] and case["frustration"] == [0.7]
    assert case["summary"] == "包裹没到" and case["priority"] == 70 and case["emergency"] is True
    assert case["transcript"] == [{"id": "1-0", "author": "customer", "text": "包裹没到",
                                   "at": "1970-01-01T00:00:01.000+00:00"}]
    assert case["fields"]["order_ref"] is None and case["sla_due"] is None
