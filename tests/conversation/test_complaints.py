"""Full complaints through the REST channel with the real trained model, in each script."""

from __future__ import annotations

import json

import pytest

from tests.conversation.helpers import answer_until_summary, assert_language, requested_slot
from tests.support.stack import Stack, buttons, find_case_id, texts

COMPLAINTS = [
    pytest.param(
        "en",
        "My refund for order ZZ555666 was refused last week, I want my money back",
        {"category": "refund", "order_ref": "ZZ555666", "desired_outcome": "refund"},
        {"contact": "you can reach me on +852 9123 4567", "incident_date": "last week",
         "description": "they refused the refund without a reason", "category": "refund",
         "desired_outcome": "refund", "order_ref": "ZZ555666"},
        "yes that's right",
        "+85291234567",
        id="english",
    ),
    pytest.param(
        "zh-Hans",
        "我的退款被拒绝了，订单ZZ555777，上周五申请的，我要退钱",
        {"category": "refund", "order_ref": "ZZ555777", "desired_outcome": "refund"},
        {"contact": "13812345678", "incident_date": "上周五", "description": "客服拒绝退款也不说原因",
         "category": "refund", "desired_outcome": "refund", "order_ref": "ZZ555777"},
        "对的，没问题",
        "+8613812345678",
        id="simplified",
    ),
    pytest.param(
        "zh-Hant",
        "我部雪櫃壞咗，訂單AC12345678，琴日先送到，我要換貨",
        {"category": "product_quality", "order_ref": "AC12345678", "desired_outcome": "replacement"},
        {"contact": "電郵係 chan.taiman@example.com", "incident_date": "琴日", "description": "雪櫃唔凍",
         "category": "product_quality", "desired_outcome": "replacement", "order_ref": "AC12345678"},
        "係，冇錯",
        "chan.taiman@example.com",
        id="traditional",
    ),
]


@pytest.mark.parametrize("language,opening,expected,answers,confirmation,stored_contact", COMPLAINTS)
def test_full_complaint_in_each_script(
    stack: Stack, cases, case_key, language, opening, expected, answers, confirmation, stored_contact
) -> None:
    """Several facts in the first message fill several slots; none is asked again; a case is created."""
    sender = f"complaint-{language}"
    replies = stack.say(sender, opening)
    slots = stack.tracker(sender)["slots"]
    for slot, value in expected.items():
        assert slots[slot] == value, f"{slot} not filled from the first message: {slots}"
    assert slots["description"], "the first message should serve as the description"
    replies += answer_until_summary(stack, sender, answers, already_given=set(expected) | {"description"})
    summary = texts(replies[-2:])
    assert expected["order_ref"] in summary
    confirmation_replies = stack.say(sender, confirmation)
    case_id = find_case_id(confirmation_replies)
    assert case_id, f"no case number given: {texts(confirmation_replies)}"
    assert_language(replies + confirmation_replies, language)
    case = cases.hgetall(case_key(case_id))
    assert case["category"] == expected["category"]
    assert case["order_ref"] == expected["order_ref"]
    assert case["contact_normalized"] == stored_contact
    assert case["language"] == language
    assert case["channel"] == "rest"
    assert case["status"] == "open"
    assert case["transcript_ref"].endswith(sender)


def test_mixed_chinese_english_complaint_is_answered_in_chinese(stack: Stack) -> None:
    """Code-switched messages are normal input; the reply stays in one script."""
    sender = "complaint-mixed"
    replies = stack.say(sender, "我的iPhone屏幕坏了, order ZZ123456, I want a replacement 快点处理")
    slots = stack.tracker(sender)["slots"]
    assert slots["language"] == "zh-Hans"
    assert slots["order_ref"] == "ZZ123456"
    assert slots["desired_outcome"] == "replacement"
    assert_language(replies, "zh-Hans")


def test_correction_at_the_summary_changes_only_that_field(stack: Stack, cases, case_key) -> None:
    """At the read-back the customer says no, picks the contact, gives a new one, and confirms."""
    sender = "complaint-correction"
    stack.say(sender, "I was double charged on my bill for account AC88776655 yesterday, I want a refund")
    answer_until_summary(
        stack, sender,
        {"contact": "old.address@example.com", "description": "charged twice", "incident_date": "yesterday",
         "order_ref": "AC88776655", "category": "billing", "desired_outcome": "refund"},
        already_given={"category", "order_ref"},
    )
    field_question = stack.say(sender, "no, something is wrong")
    payloads = [button["payload"] for button in buttons(field_question)]
    assert '/inform{"field":"contact"}' in payloads, f"no field choice offered: {field_question}"
    stack.say(sender, '/inform{"field":"contact"}')
    assert requested_slot(stack, sender) == "contact"
    summary = stack.say(sender, "new.address@example.com")
    assert "new.address@example.com" in texts(summary)
    assert "old.address@example.com" not in texts(summary)
    case_id = find_case_id(stack.say(sender, "yes"))
    assert case_id
    case = cases.hgetall(case_key(case_id))
    assert case["contact"] == "new.address@example.com"
    assert case["category"] == "billing"
    assert case["order_ref"] == "AC88776655"


def test_status_check_needs_the_contact_on_the_case(stack: Stack) -> None:
    """The right contact hears the status; a wrong contact hears nothing about the case."""
    owner = "status-owner"
    stack.say(owner, "我的快递丢了，订单ZZ909090，上周一寄出的，我要赔偿")
    answer_until_summary(
        stack, owner,
        {"contact": "13912345678", "description": "快递一直没到", "incident_date": "上周一",
         "order_ref": "ZZ909090", "category": "delivery", "desired_outcome": "compensation"},
        already_given={"order_ref"},
    )
    case_id = find_case_id(stack.say(owner, "对"))
    assert case_id

    checker = "status-checker"
    stack.say(checker, "我想查一下我的投诉进度")
    assert requested_slot(stack, checker) == "case_id"
    stack.say(checker, case_id)
    assert requested_slot(stack, checker) == "verify_contact"
    status = stack.say(checker, "+86 139 1234 5678")
    assert case_id in texts(status)
    assert_language(status, "zh-Hans")

    stranger = "status-stranger"
    stack.say(stranger, "I'd like to check the status of my complaint")
    stack.say(stranger, case_id)
    denied = stack.say(stranger, "someone.else@example.com")
    assert case_id not in texts(denied)
    assert "ZZ909090" not in texts(denied)
    assert texts(denied).strip(), "the wrong contact still gets a clear answer"


def test_bad_inputs_get_clear_errors_and_lose_nothing(stack: Stack) -> None:
    """Empty, 20 kB, invalid UTF-8 and malformed bodies are refused; the conversation carries on."""
    sender = "bad-input"
    stack.say(sender, "My parcel never arrived, order ZZ121212, I want a refund")
    asked_before = requested_slot(stack, sender)
    events_before = len(stack.tracker(sender)["events"])

    def send(body: bytes) -> tuple[int, dict]:
        return stack.post_raw(body)

    status, error = send(json.dumps({"sender": sender, "message": ""}).encode())
    assert (status, error["error"]) == (400, "empty_message")
    status, error = send(json.dumps({"sender": sender, "message": "x" * 20_000}).encode())
    assert (status, error["error"]) == (413, "message_too_long")
    assert "8000" in error["detail"]
    status, error = send(b'{"sender": "bad-input", "message": "\xff\xfe refund"}')
    assert (status, error["error"]) == (400, "invalid_encoding")
    status, error = send(b'{"sender": "bad-input", "message": ')
    assert (status, error["error"]) == (400, "malformed_json")
    status, error = send(json.dumps({"message": "hello"}).encode())
    assert (status, error["error"]) == (400, "missing_sender")

    assert len(stack.tracker(sender)["events"]) == events_before, "a refused body changed the conversation"
    assert requested_slot(stack, sender) == asked_before

    emoji_replies = stack.say(sender, "😡😡😡")
    assert texts(emoji_replies).strip(), "emoji-only input still gets a clear reply"
    follow_up = stack.say(sender, "last Monday")
    assert texts(follow_up).strip()
    assert stack.tracker(sender)["slots"]["order_ref"] == "ZZ121212", "earlier facts were lost"


def test_asking_for_a_person_is_honoured_in_one_turn(stack: Stack, cases, case_key) -> None:
    """转人工 in the middle of a complaint: one reply, a case for a person with what was collected."""
    sender = "human-request"
    stack.say(sender, "我的账单多扣了钱，账号AC55554444")
    replies = stack.say(sender, "转人工")
    case_id = find_case_id(replies)
    assert case_id, texts(replies)
    case = cases.hgetall(case_key(case_id))
    assert case["status"] == "needs_human"
    assert case["order_ref"] == "AC55554444"
    assert "customer_request" in case["escalation_reasons"]
    assert stack.tracker(sender)["active_loop"] in ({}, None, {"name": None})


def test_two_misunderstood_messages_rephrase_then_offer_a_person(stack: Stack) -> None:
    """The first miss rephrases; the second in a row offers a person."""
    sender = "misunderstood"
    first = stack.say(sender, "qwzx plmokn vbtr")
    assert texts(first).strip()
    assert not any(button["payload"] == "/affirm" for button in buttons(first))
    second = stack.say(sender, "zzkq wwpl xxnm")
    assert any(button["payload"] == "/affirm" for button in buttons(second)), texts(second)


def test_repeated_abuse_ends_politely(stack: Stack) -> None:
    """One calm boundary, then a polite end; the customer is never insulted back."""
    sender = "abusive"
    first = stack.say(sender, "you are a useless piece of garbage bot")
    second = stack.say(sender, "shut up you stupid idiot machine")
    assert texts(first).strip() and texts(second).strip()
    assert texts(first) != texts(second)
    assert stack.tracker(sender)["slots"]["abuse_count"] >= 2
