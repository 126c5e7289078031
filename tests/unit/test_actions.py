"""Custom actions run against realistic tracker states and the real domain.

Trackers come from tests/fixtures/trackers/*.json. Where Rasa itself would have
filled slots from entities before calling a form validation action, the test
passes those values as `extracted` (trailing SlotSet events, as Rasa sends them).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import render, runtime
from actions.case_store import NewCase
from actions.complaint import FORM_SLOTS, AcknowledgeComplaint, SubmitComplaint
from actions.conversation import HandleAbuse, HandleMisunderstanding, RequestHuman
from actions.forms import AskSummaryConfirmed, ValidateComplaintForm
from actions.slots import ValidateSlotMappings
from actions.status import CheckStatus

CASE_ID = re.compile(r"^CMP-\d{8}-\d{4,}$")
CALLBACK_OFFERS = {"utter_no_agents_callback", "utter_outside_hours_callback"}
MESSAGE_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}


async def run(action, tracker: Tracker, domain: Dict[str, Any]):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return events, dispatcher.messages


def responses(messages: List[Dict[str, Any]]) -> List[Optional[str]]:
    return [message.get("response") for message in messages]


def texts_of(domain: Dict[str, Any], response: str, language: str) -> List[str]:
    """The texts the domain holds for one response and language (read straight from YAML)."""
    return [
        variant["text"]
        for variant in domain["responses"][response]
        if {"type": "slot", "name": "language", "value": language} in variant.get("condition", [])
    ]


def rendered(domain: Dict[str, Any], message: Dict[str, Any], language: str) -> str:
    """What the customer sees: the response's text in their language with the action's values."""
    template = texts_of(domain, message["response"], language)[0]
    return re.sub(r"{(\w+)}", lambda match: str(message.get(match.group(1), match.group(0))), template)


def next_requested_slot(domain: Dict[str, Any], tracker: Tracker) -> Optional[str]:
    """What Rasa's form asks next: the first required slot still empty."""
    required = domain["forms"]["complaint_form"]["required_slots"]
    return next((slot for slot in required if tracker.get_slot(slot) is None), None)


def active_loop_events(events: List[Dict[str, Any]]) -> List[Any]:
    return [event.get("name") for event in events if event.get("event") == "active_loop"]


# --------------------------------------------------------------------------- complaint form


@pytest.mark.asyncio
async def test_one_message_fills_several_facts(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker("complaint_form_many_facts")
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    filled = slots_set(events)
    assert filled["category"] == "product_quality"
    assert filled["order_ref"] == "ZZ555666"
    assert filled["incident_date"] == "yesterday"
    assert filled["desired_outcome"] == "refund"
    assert filled["contact"] == "+8613812345678"
    assert filled["description"] == tracker.latest_message["text"]
    assert messages == []
    assert next_requested_slot(domain, tracker) == "summary_confirmed"


@pytest.mark.asyncio
async def test_unknown_category_and_outcome_are_refused(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker(
        "complaint_form_many_facts",
        text="something about the weather",
        entities=[],
        extracted={"category": "weather", "desired_outcome": "free_stuff"},
    )
    events, _ = await run(ValidateComplaintForm(), tracker, domain)
    filled = slots_set(events)
    assert filled["category"] is None
    assert filled["desired_outcome"] is None
    assert next_requested_slot(domain, tracker) == "category"


@pytest.mark.asyncio
async def test_known_fact_is_not_asked_again(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker("complaint_form_description_requested")
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    filled = slots_set(events)
    assert filled["description"] == "The parcel was supposed to arrive on Monday and it still hasn't come"
    assert "order_ref" not in filled
    assert tracker.get_slot("order_ref") == "ZZ555666"
    assert messages == []
    # The order number came with the first message, so the form moves on to the date.
    assert next_requested_slot(domain, tracker) == "incident_date"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "text, intent",
    [("跳过", "dont_know"), ("skip", "inform"), ("我没有订单号", "dont_know"), ("唔記得", "inform")],
)
async def test_skip_at_order_ref_records_a_dash(domain, make_tracker, slots_set, text, intent) -> None:
    extracted = {"order_ref": "-"} if intent == "dont_know" else None  # Rasa's from_intent mapping
    tracker = make_tracker("complaint_form_order_ref_requested", text=text, intent=intent, extracted=extracted)
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_set(events)["order_ref"] == "-"
    assert [message.get("response") for message in messages] == ["utter_skip_ok"]
    assert next_requested_slot(domain, tracker) == "incident_date"


@pytest.mark.asyncio
async def test_order_ref_typed_in_lower_case_is_normalised(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker("complaint_form_order_ref_requested", text="ord-20261101", intent="inform")
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_set(events)["order_ref"] == "ORD-20261101"
    assert messages == []


@pytest.mark.asyncio
async def test_nonsense_order_ref_is_asked_again(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker("complaint_form_order_ref_requested", text="就是上次那个", intent="inform")
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_set(events)["order_ref"] is None
    assert responses(messages) == ["utter_invalid_order_ref"]
    assert next_requested_slot(domain, tracker) == "order_ref"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "text, expected",
    [("+852 6123-4567", "+85261234567"), ("you can reach me at Zhang.Wei@Example.com", "zhang.wei@example.com")],
)
async def test_contact_typed_in_any_format(domain, make_tracker, slots_set, text, expected) -> None:
    tracker = make_tracker("complaint_form_contact_requested", text=text)
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_set(events)["contact"] == expected
    assert messages == []
    assert next_requested_slot(domain, tracker) == "summary_confirmed"


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["call me maybe", "12345", "2026-11-20"])
async def test_invalid_contact_is_refused(domain, make_tracker, slots_set, text) -> None:
    tracker = make_tracker("complaint_form_contact_requested", text=text)
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_set(events)["contact"] is None
    assert responses(messages) == ["utter_invalid_contact"]
    assert next_requested_slot(domain, tracker) == "contact"


@pytest.mark.asyncio
@pytest.mark.parametrize("text, intent", [("I don't know", "dont_know"), ("skip", "inform"), ("不想留", "dont_know")])
async def test_contact_cannot_be_skipped(domain, make_tracker, slots_set, text, intent) -> None:
    tracker = make_tracker("complaint_form_contact_requested", text=text, intent=intent)
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_set(events)["contact"] is None
    assert responses(messages) == ["utter_contact_required"]


@pytest.mark.asyncio
async def test_summary_affirm_confirms(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker("complaint_form_summary")
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    filled = slots_set(events)
    assert filled["summary_confirmed"] is True
    assert messages == []
    assert next_requested_slot(domain, tracker) is None




@pytest.mark.asyncio
async def test_summary_deny_keeps_the_complaint_unconfirmed(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker("complaint_form_summary", text="唔啱", intent="deny")
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_set(events).get("summary_confirmed") is None
    assert messages == []
    assert next_requested_slot(domain, tracker) == "summary_confirmed"


@pytest.mark.asyncio
async def test_summary_deny_asks_for_a_correction(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker("complaint_form_summary", text="唔啱", intent="deny")
    events, messages = await run(ValidateComplaintForm(), tracker, domain)
    filled = slots_set(events)
    assert filled.get("correction_pending") is True
    assert filled.get("summary_confirmed") is None
    assert tracker.get_slot("contact") == "+85291234567"
    assert messages == []
    assert next_requested_slot(domain, tracker) == "summary_confirmed"


@pytest.mark.asyncio
async def test_choosing_a_field_clears_it_to_be_asked_again(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker(
        "complaint_form_summary",
        slots={"correction_pending": True},
        text='/inform{"field":"contact"}',
        intent="inform",
        entities=[{"entity": "field", "value": "contact"}],
    )
    events, _ = await run(ValidateComplaintForm(), tracker, domain)
    filled = slots_set(events)
    assert filled["contact"] is None
    assert filled["summary_confirmed"] is None
    assert tracker.get_slot("order_ref") == "-"
    assert next_requested_slot(domain, tracker) == "contact"


@pytest.mark.asyncio
async def test_choosing_a_field_ends_the_correction_question(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker(
        "complaint_form_summary",
        slots={"correction_pending": True},
        text='/inform{"field":"description"}',
        intent="inform",
        entities=[{"entity": "field", "value": "description"}],
    )
    events, _ = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_set(events).get("correction_pending") is False


@pytest.mark.asyncio
@pytest.mark.parametrize("field", ["contact", "order_ref"])
async def test_choosing_a_field_says_nothing_is_wrong(domain, make_tracker, field) -> None:
    tracker = make_tracker(
        "complaint_form_summary",
        slots={"correction_pending": True},
        text=f'/inform{{"field":"{field}"}}',
        intent="inform",
        entities=[{"entity": "field", "value": field}],
    )
    _, messages = await run(ValidateComplaintForm(), tracker, domain)
    assert responses(messages) == []


# --------------------------------------------------------------------------- read-back


@pytest.mark.asyncio
async def test_summary_is_read_back_in_traditional_chinese(domain, make_tracker) -> None:
    tracker = make_tracker("complaint_form_summary")
    events, messages = await run(AskSummaryConfirmed(), tracker, domain)
    assert events == []
    assert responses(messages) == ["utter_complaint_summary", "utter_ask_summary_confirmed"]
    summary = messages[0]
    assert summary["category_label"] == "產品品質"
    assert summary["desired_outcome_label"] == "換貨"
    assert summary["order_ref"] == "未提供"
    assert summary["incident_date"] == "上星期"
    assert summary["contact"] == "+85291234567"
    seen = rendered(domain, summary, "zh-Hant")
    assert "投訴類型：產品品質" in seen
    assert "事情經過：部雪櫃買咗一個禮拜就唔凍" in seen
    assert "{" not in seen


@pytest.mark.asyncio
async def test_summary_is_read_back_in_english(domain, make_tracker) -> None:
    tracker = make_tracker("complaint_form_summary", slots={"language": "en", "order_ref": "ZZ555666"})
    _, messages = await run(AskSummaryConfirmed(), tracker, domain)
    assert messages[0]["category_label"] == "Product quality"
    assert messages[0]["desired_outcome_label"] == "Replacement"
    assert messages[0]["order_ref"] == "ZZ555666"


@pytest.mark.asyncio
async def test_correction_pending_asks_which_field(domain, make_tracker) -> None:
    tracker = make_tracker("complaint_form_summary", slots={"correction_pending": True})
    events, messages = await run(AskSummaryConfirmed(), tracker, domain)
    assert events == []
    assert responses(messages) == ["utter_ask_field_to_correct"]


# --------------------------------------------------------------------------- acknowledgement


@pytest.mark.asyncio
async def test_acknowledgement_fits_category_mood_and_language(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker("new_complaint_zh_hans")
    events, messages = await run(AcknowledgeComplaint(), tracker, domain)
    allowed = texts_of(domain, "utter_ack_refund_calm", "zh-Hans")
    assert len(allowed) >= 2
    assert len(messages) == 1
    assert messages[0]["text"] in allowed
    filled = slots_set(events)
    assert filled["last_ack"] == messages[0]["text"]
    assert filled["frustration"] < 0.5


@pytest.mark.asyncio
async def test_acknowledgement_never_repeats_itself(domain, make_tracker, slots_set) -> None:
    allowed = texts_of(domain, "utter_ack_refund_calm", "zh-Hans")
    last = None
    seen = set()
    for _ in range(20):
        tracker = make_tracker("new_complaint_zh_hans", slots={"last_ack": last})
        events, messages = await run(AcknowledgeComplaint(), tracker, domain)
        said = messages[0]["text"]
        assert said in allowed
        assert said != last
        seen.add(said)
        last = slots_set(events)["last_ack"]
    assert len(seen) >= 2


@pytest.mark.asyncio
async def test_upset_customer_gets_the_short_direct_acknowledgement(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker(
        "new_complaint_zh_hans",
        slots={"language": "en"},
        text="THIS IS THE THIRD TIME!!! unacceptable",
        entities=[{"entity": "category", "value": "delivery"}],
    )
    events, messages = await run(AcknowledgeComplaint(), tracker, domain)
    assert messages[0]["text"] in texts_of(domain, "utter_ack_delivery_upset", "en")
    assert slots_set(events)["frustration"] >= 0.5


@pytest.mark.asyncio
async def test_unknown_category_gets_the_general_acknowledgement(domain, make_tracker) -> None:
    tracker = make_tracker("new_complaint_zh_hans", text="我要投诉", entities=[])
    _, messages = await run(AcknowledgeComplaint(), tracker, domain)
    assert messages[0]["text"] in texts_of(domain, "utter_ack_other_calm", "zh-Hans")


@pytest.mark.asyncio
async def test_substantive_first_message_becomes_the_description(domain, make_tracker, slots_set) -> None:
    tracker = make_tracker("new_complaint_zh_hans")
    events, _ = await run(AcknowledgeComplaint(), tracker, domain)
    assert slots_set(events)["description"] == "我申请退款已经两个星期了，钱还没有退回来"


@pytest.mark.asyncio
async def test_short_message_or_known_description_is_not_taken(domain, make_tracker, slots_set) -> None:
    events, _ = await run(AcknowledgeComplaint(), make_tracker("new_complaint_zh_hans", text="退款"), domain)
    assert "description" not in slots_set(events)
    tracker = make_tracker("new_complaint_zh_hans", slots={"description": "之前说过的情况"})
    events, _ = await run(AcknowledgeComplaint(), tracker, domain)
    assert "description" not in slots_set(events)


# --------------------------------------------------------------------------- submit


@pytest.mark.asyncio
async def test_submit_creates_the_case_and_gives_its_number(domain, make_tracker, slots_set, store, new_sender) -> None:
    sender = new_sender("submit")
    tracker = make_tracker("ready_to_submit", sender_id=sender)
    events, messages = await run(SubmitComplaint(), tracker, domain)

    assert responses(messages) == ["utter_case_created"]
    case_id = messages[0]["case_id"]
    assert CASE_ID.match(case_id)
    assert messages[0]["contact"] == "+8613812345678"
    assert messages[0]["response_hours"] == str(runtime.settings().response_hours)

    stored = await store.get(case_id)
    assert stored is not None
    assert stored["sender_id"] == sender
    assert stored["channel"] == "rest"
    assert stored["language"] == "en"
    assert stored["category"] == "delivery"
    assert stored["description"] == "My parcel ZZ555666 arrived with the screen cracked"
    assert stored["order_ref"] == "ZZ555666"
    assert stored["incident_date"] == "2026-11-20"
    assert stored["desired_outcome"] == "replacement"
    assert stored["contact_normalized"] == "+8613812345678"
    assert stored["status"] == "open"
    assert stored["urgent"] == "0"

    filled = slots_set(events)
    assert all(filled[slot] is None for slot in FORM_SLOTS)
    assert filled["correction_pending"] is False
    assert filled["last_case_id"] == case_id
    assert "contact" not in filled


@pytest.mark.asyncio
async def test_safety_complaint_is_urgent(domain, make_tracker, store, new_sender) -> None:
    tracker = make_tracker(
        "ready_to_submit",
        sender_id=new_sender("safety"),
        slots={"category": "safety", "description": "The charger caught fire and burned the desk"},
    )
    _, messages = await run(SubmitComplaint(), tracker, domain)
    stored = await store.get(messages[0]["case_id"])
    assert stored["urgent"] == "1"
    assert messages[0]["response_hours"] == str(runtime.settings().urgent_response_hours)


# --------------------------------------------------------------------------- status


async def _existing_case(store, contact: str = "13812345678") -> Dict[str, str]:
    return await store.create(
        NewCase(
            sender_id="earlier-conversation",
            channel="rest",
            language="en",
            category="billing",
            description="Charged twice for broadband",
            contact=contact,
        )
    )


def _leaks(messages: List[Dict[str, Any]], case: Dict[str, str]) -> bool:
    extra = {key for message in messages for key in message if key not in MESSAGE_KEYS}
    dumped = json.dumps(messages, ensure_ascii=False)
    return bool(extra) or case["case_id"] in dumped or "billing" in dumped.lower()


@pytest.mark.asyncio
async def test_status_with_the_right_contact(domain, make_tracker, slots_set, store, new_sender) -> None:
    case = await _existing_case(store)
    tracker = make_tracker("status_check", sender_id=new_sender("status-ok"), slots={"case_id": case["case_id"]})
    events, messages = await run(CheckStatus(), tracker, domain)
    assert responses(messages) == ["utter_case_status"]
    assert messages[0]["case_id"] == case["case_id"]
    assert messages[0]["status_label"] == texts_of(domain, "utter_label_status_open", "en")[0]
    assert messages[0]["category_label"] == "Billing / charges"
    assert slots_set(events) == {"case_id": None, "verify_contact": None}


@pytest.mark.asyncio
@pytest.mark.parametrize("contact", ["13812345679", "zhang@qq.com", "I forgot"])
async def test_status_with_a_wrong_contact_reveals_nothing(
    domain, make_tracker, slots_set, store, new_sender, contact
) -> None:
    case = await _existing_case(store)
    tracker = make_tracker(
        "status_check",
        sender_id=new_sender("status-bad"),
        slots={"case_id": case["case_id"], "verify_contact": contact},
    )
    events, messages = await run(CheckStatus(), tracker, domain)
    assert responses(messages) == ["utter_case_not_found"]
    assert not _leaks(messages, case)
    assert slots_set(events) == {"case_id": None, "verify_contact": None}


@pytest.mark.asyncio
async def test_status_of_an_unknown_case(domain, make_tracker, store, new_sender) -> None:
    tracker = make_tracker("status_check", sender_id=new_sender("status-none"), slots={"case_id": "CMP-19990101-0001"})
    _, messages = await run(CheckStatus(), tracker, domain)
    assert responses(messages) == ["utter_case_not_found"]


@pytest.mark.asyncio
async def test_too_many_status_attempts_are_refused_even_when_right(domain, make_tracker, store, new_sender) -> None:
    case = await _existing_case(store)
    sender = new_sender("status-brute")
    limit = runtime.settings().status_attempts_per_hour
    for attempt in range(limit):
        wrong = make_tracker(
            "status_check",
            sender_id=sender,
            slots={"case_id": case["case_id"], "verify_contact": f"1381234{attempt:04d}"},
        )
        _, messages = await run(CheckStatus(), wrong, domain)
        assert responses(messages) == ["utter_case_not_found"]
    right = make_tracker("status_check", sender_id=sender, slots={"case_id": case["case_id"]})
    _, messages = await run(CheckStatus(), right, domain)
    assert responses(messages) == ["utter_case_not_found"]
    assert not _leaks(messages, case)
    # Another conversation is not affected.
    other = make_tracker("status_check", sender_id=new_sender("status-other"), slots={"case_id": case["case_id"]})
    _, messages = await run(CheckStatus(), other, domain)
    assert responses(messages) == ["utter_case_status"]


# --------------------------------------------------------------------------- misunderstanding


@pytest.mark.asyncio
async def test_first_misunderstanding_rephrases_the_question(domain, make_tracker, slots_set) -> None:
    events, messages = await run(HandleMisunderstanding(), make_tracker("misunderstood_in_form"), domain)
    assert responses(messages) == ["utter_rephrase_order_ref"]
    assert slots_set(events) == {"misunderstood_count": 1.0}


@pytest.mark.asyncio
async def test_misunderstanding_outside_a_form_is_generic(domain, make_tracker) -> None:
    _, messages = await run(HandleMisunderstanding(), make_tracker("abusive_customer", intent="nlu_fallback"), domain)
    assert responses(messages) == ["utter_rephrase_generic"]


@pytest.mark.asyncio
async def test_second_misunderstanding_in_a_row_offers_a_person(domain, make_tracker, slots_set) -> None:
    first, _ = await run(HandleMisunderstanding(), make_tracker("misunderstood_in_form"), domain)
    tracker = make_tracker("misunderstood_in_form", slots=slots_set(first), text="zxcv")
    events, messages = await run(HandleMisunderstanding(), tracker, domain)
    assert responses(messages) == ["utter_offer_human"]
    assert slots_set(events)["human_offered"] is True


@pytest.mark.asyncio
async def test_understood_message_in_between_starts_counting_again(domain, make_tracker, slots_set) -> None:
    first, _ = await run(HandleMisunderstanding(), make_tracker("misunderstood_in_form"), domain)
    understood = make_tracker("misunderstood_in_form", slots=slots_set(first), text="skip", intent="dont_know")
    reset, _ = await run(ValidateSlotMappings(), understood, domain)
    assert slots_set(reset)["misunderstood_count"] == 0.0
    again = make_tracker("misunderstood_in_form", slots=slots_set(reset), text="qwerty")
    _, messages = await run(HandleMisunderstanding(), again, domain)
    assert responses(messages) == ["utter_rephrase_order_ref"]


# --------------------------------------------------------------------------- abuse


@pytest.mark.asyncio
async def test_first_abuse_sets_a_boundary(domain, make_tracker, slots_set) -> None:
    events, messages = await run(HandleAbuse(), make_tracker("abusive_customer"), domain)
    assert responses(messages) == ["utter_abuse_boundary"]
    assert slots_set(events) == {"abuse_count": 1.0}
    assert active_loop_events(events) == []


@pytest.mark.asyncio
async def test_repeated_abuse_ends_the_form_and_flags_the_case(domain, make_tracker, slots_set, store) -> None:
    case = await _existing_case(store)
    tracker = make_tracker(
        "misunderstood_in_form",
        text="you are useless idiots",
        intent="abuse",
        slots={"abuse_count": 1.0, "last_case_id": case["case_id"]},
    )
    events, messages = await run(HandleAbuse(), tracker, domain)
    assert responses(messages) == ["utter_abuse_end"]
    assert active_loop_events(events) == [None]
    filled = slots_set(events)
    assert filled["abuse_count"] == 2.0
    assert filled["requested_slot"] is None
    stored = await store.get(case["case_id"])
    assert stored["abuse_flagged"] == "1"
    assert stored["status"] == "open"


@pytest.mark.asyncio
async def test_repeated_abuse_without_a_case(domain, make_tracker, store) -> None:
    tracker = make_tracker("abusive_customer", slots={"abuse_count": 1.0})
    events, messages = await run(HandleAbuse(), tracker, domain)
    assert responses(messages) == ["utter_abuse_end"]
    assert active_loop_events(events) == [None]


# --------------------------------------------------------------------------- request a person


@pytest.mark.asyncio
async def test_request_human_in_the_form_hands_over_what_was_collected(
    domain, make_tracker, slots_set, store, raw_redis, redis_env, new_sender
) -> None:
    sender = new_sender("human")
    tracker = make_tracker("request_human_in_form", sender_id=sender)
    events, messages = await run(RequestHuman(), tracker, domain)
    # No agent is online in these tests: a callback is offered (see test_handoff_actions.py for the queue).
    assert responses(messages)[0] in CALLBACK_OFFERS
    case_id = slots_set(events)["last_case_id"]
    stored = await store.get(case_id)
    assert stored["status"] == "needs_human"
    assert json.loads(stored["escalation_reasons"]) == ["customer_request"]
    assert stored["language"] == "zh-Hant"
    assert stored["category"] == "service_attitude"
    assert stored["description"] == "門市職員態度好差，仲鬧我"
    assert stored["incident_date"] == "琴日"
    assert stored["contact_normalized"] == "+85261234567"
    assert stored["transcript_ref"] == f"{redis_env['prefix']}:tracker:{sender}"
    assert active_loop_events(events) == [None]
    filled = slots_set(events)
    assert filled["last_case_id"] == case_id
    assert filled["requested_slot"] is None
    assert all(filled[slot] is None for slot in FORM_SLOTS)


@pytest.mark.asyncio
async def test_request_human_after_a_case_flags_that_case(
    domain, make_tracker, slots_set, store, raw_redis, redis_env
) -> None:
    case = await _existing_case(store)
    tracker = make_tracker("request_human_after_case", slots={"last_case_id": case["case_id"]})
    events, messages = await run(RequestHuman(), tracker, domain)
    assert responses(messages)[0] in CALLBACK_OFFERS
    stored = await store.get(case["case_id"])
    assert stored["status"] == "needs_human"
    assert json.loads(stored["escalation_reasons"]) == ["customer_request"]
    assert stored["description"] == "Charged twice for broadband"
    assert raw_redis.llen(f"{redis_env['prefix']}:sender_cases:{tracker.sender_id}") == 0
    assert slots_set(events)["last_case_id"] == case["case_id"]


@pytest.mark.asyncio
async def test_accepting_the_offer_after_misunderstandings_records_why(
    domain, make_tracker, store, slots_set
) -> None:
    tracker = make_tracker("misunderstood_in_form", text="yes please", intent="affirm", slots={"human_offered": True})
    events, _ = await run(RequestHuman(), tracker, domain)
    stored = await store.get(slots_set(events)["last_case_id"])
    assert json.loads(stored["escalation_reasons"]) == ["repeated_misunderstanding"]
    assert stored["category"] == "delivery"


# --------------------------------------------------------------------------- language slot


@pytest.mark.asyncio
async def test_language_follows_the_script_but_keeps_it_when_ambiguous(domain, make_tracker, slots_set) -> None:
    hant = make_tracker(
        "abusive_customer",
        slots={"language": "zh-Hant"},
        text="你好",
        intent="greet",
        entities=[{"entity": "language", "value": "zh"}],
    )
    events, _ = await run(ValidateSlotMappings(), hant, domain)
    assert "language" not in slots_set(events)
    switch = make_tracker(
        "abusive_customer",
        slots={"language": "zh-Hant"},
        text="谢谢",
        intent="thanks",
        entities=[{"entity": "language", "value": "zh-Hans"}],
    )
    events, _ = await run(ValidateSlotMappings(), switch, domain)
    assert slots_set(events)["language"] == "zh-Hans"


def test_rendered_responses_exist_in_every_language(domain) -> None:
    for response in (
        "utter_case_created",
        "utter_case_status",
        "utter_case_not_found",
        "utter_offer_human",
        "utter_abuse_boundary",
        "utter_abuse_end",
    ):
        for language in ("en", "zh-Hans", "zh-Hant"):
            assert render.text(domain, response, language), (response, language)
