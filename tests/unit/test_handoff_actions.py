"""Handing over to a person: enriched case, queue, callbacks, cancelling and CSAT, on a real Redis."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional

import pytest
import redis
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff
from actions.conversation import RequestHuman
from actions.handoff_actions import (
    BookCallback,
    CancelHandoff,
    SkipCallback,
    StoreCsat,
    StoreCsatComment,
    ValidateCallbackForm,
    format_callback_time,
    parse_rating,
)
from handoff import agents, conversation_log, ownership, queue

OPEN_HOURS = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)  # 11:00 in Asia/Shanghai
AFTER_HOURS = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # 23:00 in Asia/Shanghai
PROTOCOL_KEYS = {
    "case_id", "conversation_id", "channel", "language", "category", "fields", "customer", "reasons",
    "frustration", "summary", "priority", "emergency", "needs_authority", "sla_due", "transcript",
}
SHARED_KEYS = ("queue", "queue_entries", "assignments", "agent_names", "callbacks")


async def run(action, tracker: Tracker, domain: Dict[str, Any]):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return events, dispatcher.messages


def responses(messages: List[Dict[str, Any]]) -> List[Optional[str]]:
    return [message.get("response") for message in messages]


def callback_offered(events: List[Dict[str, Any]]) -> bool:
    offered = [event["value"] for event in events if event.get("name") == "callback_offered"]
    return bool(offered and offered[-1])


@pytest.fixture(autouse=True)
def clean_handoff(redis_env: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with an empty queue, no agents, and a clock inside business hours."""
    client = redis.Redis.from_url(redis_env["url"], decode_responses=True)
    prefix = redis_env["prefix"]

    def wipe() -> None:
        doomed = [f"{prefix}:{name}" for name in SHARED_KEYS]
        for pattern in ("agent:*", "presence:*", "agent_load:*", "callback:*"):
            doomed.extend(client.scan_iter(match=f"{prefix}:{pattern}"))
        client.delete(*doomed)

    wipe()
    monkeypatch.setattr(handoff, "utcnow", lambda: OPEN_HOURS)
    for name in ("HANDOFF_BUSINESS_OPEN", "HANDOFF_BUSINESS_CLOSE", "HANDOFF_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield
    finally:
        wipe()
        client.close()


async def add_agent(store, presence: str = "available", name: str = "alice") -> str:
    """An agent for every language and skill, with the given presence."""
    agent = await agents.create_agent(
        store.client, store.keys, name=name, password="correct-horse", role="agent",
        skills=["any"], languages=["en", "zh-Hans", "zh-Hant"],
    )
    await agents.set_presence(store.client, store.keys, agent.agent_id, presence)
    return agent.agent_id


# --------------------------------------------------------------------------- queueing


@pytest.mark.asyncio
async def test_request_with_an_agent_available_queues_the_enriched_case(
    domain, make_tracker, slots_set, store, new_sender
) -> None:
    sender = new_sender("queue")
    earlier = await store.create(handoff.partial_case(make_tracker("request_human_in_form", sender_id=sender), "x"))
    await store.flag(earlier["case_id"], status="resolved", category="delivery")
    await conversation_log.append(store.client, store.keys, sender, "customer", "門市職員態度好差，仲鬧我")
    await conversation_log.append(store.client, store.keys, sender, "bot", "好抱歉聽到咁嘅經歷。")
    await add_agent(store)
    tracker = make_tracker("request_human_in_form", sender_id=sender)

    events, messages = await run(RequestHuman(), tracker, domain)

    assert responses(messages) == ["utter_handoff_queued"]
    case_id = messages[0]["case_id"]
    assert messages[0]["position"] == 1
    assert messages[0]["wait_minutes"] == 6  # one case, one agent, the default handle time
    assert not callback_offered(events)
    assert slots_set(events)["last_case_id"] == case_id
    owner = await ownership.current(store.client, store.keys, sender)
    assert (owner.state, owner.case_id) == (ownership.QUEUED, case_id)
    assert await queue.waiting_count(store.client, store.keys) == 1
    entry = await queue.entry(store.client, store.keys, case_id)
    assert entry is not None and (entry.language, entry.skills_needed) == ("zh-Hant", "service_attitude")

    stored = await store.get(case_id)
    assert stored["status"] == "needs_human"
    enriched = json.loads(stored["enriched"])
    assert set(enriched) >= PROTOCOL_KEYS
    assert enriched["case_id"] == case_id and enriched["conversation_id"] == sender
    assert (enriched["channel"], enriched["language"], enriched["category"]) == ("rest", "zh-Hant", "service_attitude")
    assert enriched["fields"]["description"] == "門市職員態度好差，仲鬧我"
    assert enriched["fields"]["incident_date"] == "琴日"
    assert enriched["fields"]["contact"] == "+85261234567"
    assert enriched["customer"]["contact"] == "+85261234567"
    assert enriched["customer"]["value_tier"] == "standard"
    assert enriched["customer"]["past_cases"] == [
        {"case_id": earlier["case_id"], "category": "delivery", "status": "resolved"}
    ]
    assert enriched["reasons"] == ["customer_request"]
    assert enriched["frustration"] and all(0 <= score <= 1 for score in enriched["frustration"])
    assert enriched["frustration"][-1] == 0.5
    assert len(enriched["summary"]) < 200 and "asked for a person" in enriched["summary"]
    assert enriched["summary"].isascii()
    assert 0 <= enriched["priority"] <= 100 and enriched["priority"] == entry.priority
    assert enriched["emergency"] is False and enriched["needs_authority"] is False
    assert datetime.fromisoformat(enriched["sla_due"]) > OPEN_HOURS
    assert [item["author"] for item in enriched["transcript"]] == ["customer", "bot"]


@pytest.mark.asyncio
async def test_asking_again_while_queued_is_not_a_second_entry(domain, make_tracker, store, new_sender) -> None:
    sender = new_sender("again")
    await add_agent(store)
    await run(RequestHuman(), make_tracker("request_human_after_case", sender_id=sender), domain)
    events, messages = await run(RequestHuman(), make_tracker("request_human_after_case", sender_id=sender), domain)
    assert responses(messages) == ["utter_still_waiting"]
    assert messages[0]["position"] == 1 and messages[0]["wait_minutes"] >= 1
    assert await queue.waiting_count(store.client, store.keys) == 1


@pytest.mark.asyncio
async def test_emergency_compensation_case_jumps_and_needs_authority(domain, make_tracker, store, new_sender) -> None:
    await add_agent(store)
    _, calm = await run(RequestHuman(), make_tracker("request_human_in_form", sender_id=new_sender("calm")), domain)
    urgent = make_tracker(
        "request_human_in_form",
        sender_id=new_sender("urgent"),
        slots={"category": "safety", "desired_outcome": "compensation", "value_tier": "vip"},
    )
    _, messages = await run(RequestHuman(), urgent, domain)
    assert messages[0]["position"] == 1  # emergencies go first
    enriched = json.loads((await store.get(messages[0]["case_id"]))["enriched"])
    calm_enriched = json.loads((await store.get(calm[0]["case_id"]))["enriched"])
    assert enriched["emergency"] is True and enriched["needs_authority"] is True
    assert enriched["customer"]["value_tier"] == "vip"
    assert enriched["priority"] > calm_enriched["priority"]
    assert await queue.position(store.client, store.keys, calm[0]["case_id"]) == 2


@pytest.mark.asyncio
async def test_nobody_online_offers_a_callback_and_does_not_queue(
    domain, make_tracker, slots_set, store, new_sender
) -> None:
    sender = new_sender("nobody")
    await add_agent(store, presence="offline")
    events, messages = await run(RequestHuman(), make_tracker("request_human_after_case", sender_id=sender), domain)
    assert responses(messages) == ["utter_no_agents_callback"]
    assert messages[0]["case_id"] == slots_set(events)["last_case_id"]  # the case number, at once
    assert callback_offered(events)
    assert slots_set(events)["callback_time"] is None
    assert await queue.waiting_count(store.client, store.keys) == 0
    assert (await ownership.current(store.client, store.keys, sender)).state == ownership.BOT
    case_id = slots_set(events)["last_case_id"]
    assert "enriched" in await store.get(case_id)  # whoever calls back has the whole story


@pytest.mark.asyncio
async def test_outside_hours_offers_a_callback(domain, make_tracker, store, new_sender, monkeypatch) -> None:
    monkeypatch.setattr(handoff, "utcnow", lambda: AFTER_HOURS)
    await add_agent(store)
    tracker = make_tracker("request_human_after_case", sender_id=new_sender("late"))
    events, messages = await run(RequestHuman(), tracker, domain)
    assert responses(messages) == ["utter_outside_hours_callback"]
    assert (messages[0]["open"], messages[0]["close"]) == ("09:00", "21:00")
    assert messages[0]["case_id"]
    assert callback_offered(events)
    assert await queue.waiting_count(store.client, store.keys) == 0


@pytest.mark.asyncio
async def test_busy_agents_keep_the_place_and_offer_a_callback(domain, make_tracker, store, new_sender) -> None:
    await add_agent(store, presence="busy")
    tracker = make_tracker("request_human_after_case", sender_id=new_sender("busy"))
    events, messages = await run(RequestHuman(), tracker, domain)
    assert responses(messages) == ["utter_handoff_queued", "utter_no_agents_callback"]
    assert callback_offered(events)
    assert await queue.waiting_count(store.client, store.keys) == 1


# --------------------------------------------------------------------------- callbacks


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "text, expected",
    [
        ("tomorrow 10am", "2026-11-24T10:00+08:00"),
        ("明天下午三点", "2026-11-24T15:00+08:00"),
        ("聽日下晝三點", "2026-11-24T15:00+08:00"),
        ("in 2 hours", "2026-11-23T13:00+08:00"),
    ],
)
async def test_callback_time_is_understood_in_three_languages(domain, make_tracker, text, expected) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("request_human_after_case")
    result = ValidateCallbackForm().validate_callback_time(text, dispatcher, tracker, domain)
    assert result == {"callback_time": expected}
    assert dispatcher.messages == []


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["whenever you like", "明天凌晨三点", "聽日"])
async def test_unclear_or_closed_callback_time_is_asked_again(domain, make_tracker, text) -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateCallbackForm().validate_callback_time(text, dispatcher, make_tracker("status_check"), domain)
    assert result == {"callback_time": None}
    assert responses(dispatcher.messages) == ["utter_callback_time_unclear"]


@pytest.mark.asyncio
async def test_booked_callback_is_tracked(domain, make_tracker, slots_set, store, raw_redis, redis_env) -> None:
    case = await store.create(handoff.partial_case(make_tracker("request_human_after_case"), "customer_request"))
    tracker = make_tracker(
        "request_human_after_case",
        slots={"callback_time": "2026-11-24T10:00+08:00", "last_case_id": case["case_id"], "language": "zh-Hans"},
    )
    events, messages = await run(BookCallback(), tracker, domain)
    assert responses(messages) == ["utter_callback_booked"]
    assert messages[0]["callback_time"] == "11月24日（周二）10:00"
    prefix = redis_env["prefix"]
    due = datetime.fromisoformat("2026-11-24T10:00+08:00").timestamp()
    assert raw_redis.zscore(f"{prefix}:callbacks", case["case_id"]) == due
    booked = raw_redis.hgetall(f"{prefix}:callback:{case['case_id']}")
    assert booked == {
        "case_id": case["case_id"],
        "conversation_id": tracker.sender_id,
        "due_at": "2026-11-24T10:00+08:00",
        "contact": "+8613812345678",
        "language": "zh-Hans",
        "status": "pending",
    }
    assert slots_set(events)["callback_time"] is None


def test_callback_time_reads_naturally() -> None:
    moment = datetime.fromisoformat("2026-11-24T15:30+08:00")
    assert format_callback_time(moment, "en") == "Tue 24 Nov, 15:30"
    assert format_callback_time(moment, "zh-Hant") == "11月24日（週二）15:30"


@pytest.mark.asyncio
async def test_declining_the_callback(domain, make_tracker, store, new_sender) -> None:
    await add_agent(store, presence="busy")
    queued = new_sender("decline-queued")
    await run(RequestHuman(), make_tracker("request_human_after_case", sender_id=queued), domain)
    no = {"text": "no thanks", "intent": "deny", "slots": {"callback_offered": True}}
    _, messages = await run(SkipCallback(), make_tracker("request_human_after_case", sender_id=queued, **no), domain)
    assert responses(messages) == ["utter_still_waiting"]  # still in the queue
    assert await queue.waiting_count(store.client, store.keys) == 1
    alone = make_tracker("request_human_after_case", sender_id=new_sender("decline"), **no)
    events, messages = await run(SkipCallback(), alone, domain)
    assert responses(messages) == ["utter_callback_declined"]
    assert not callback_offered(events)


# --------------------------------------------------------------------------- cancelling


@pytest.mark.asyncio
async def test_cancelling_while_queued_leaves_the_queue(domain, make_tracker, store, new_sender) -> None:
    sender = new_sender("cancel")
    await add_agent(store)
    _, queued = await run(RequestHuman(), make_tracker("request_human_after_case", sender_id=sender), domain)
    case_id = queued[0]["case_id"]
    tracker = make_tracker(
        "request_human_after_case", sender_id=sender, text="唔使喇，唔使搵人", intent="cancel_handoff"
    )
    events, messages = await run(CancelHandoff(), tracker, domain)
    assert responses(messages) == ["utter_handoff_cancelled"]
    assert all(event.get("event") != "active_loop" for event in events)  # a complaint form would carry on
    assert await queue.waiting_count(store.client, store.keys) == 0
    assert (await ownership.current(store.client, store.keys, sender)).state == ownership.BOT
    assert (await store.get(case_id))["status"] == "open"


@pytest.mark.asyncio
async def test_cancelling_drops_a_booked_callback(domain, make_tracker, store, raw_redis, redis_env) -> None:
    case = await store.create(handoff.partial_case(make_tracker("request_human_after_case"), "customer_request"))
    booked = make_tracker(
        "request_human_after_case", slots={"callback_time": "2026-11-24T10:00+08:00", "last_case_id": case["case_id"]}
    )
    await run(BookCallback(), booked, domain)
    cancel = make_tracker("request_human_after_case", slots={"last_case_id": case["case_id"]}, intent="cancel_handoff")
    await run(CancelHandoff(), cancel, domain)
    prefix = redis_env["prefix"]
    assert raw_redis.zscore(f"{prefix}:callbacks", case["case_id"]) is None
    assert raw_redis.hget(f"{prefix}:callback:{case['case_id']}", "status") == "cancelled"


# --------------------------------------------------------------------------- CSAT


@pytest.mark.asyncio
async def test_rating_after_hand_back_is_stored_and_the_bot_takes_over(
    domain, make_tracker, store, new_sender
) -> None:
    sender = new_sender("csat")
    case = await store.create(handoff.partial_case(make_tracker("request_human_after_case"), "customer_request"))
    for state, agent in ((ownership.QUEUED, None), (ownership.AGENT, "agt_1"), (ownership.HANDED_BACK, None)):
        await ownership.transition(store.client, store.keys, sender, state, agent_id=agent, case_id=case["case_id"])
    tracker = make_tracker(
        "request_human_after_case",
        sender_id=sender,
        text='/rate{"rating":4}',
        intent="rate",
        entities=[{"entity": "rating", "value": 4}],
    )
    events, messages = await run(StoreCsat(), tracker, domain)
    assert messages == []  # the comment form asks next
    stored = await store.get(case["case_id"])
    assert stored["csat_rating"] == "4" and stored["csat_at"]
    assert (await ownership.current(store.client, store.keys, sender)).state == ownership.BOT
    assert {"event": "slot", "name": "csat_case_id", "value": case["case_id"]} in [
        {key: event.get(key) for key in ("event", "name", "value")} for event in events
    ]

    comment = make_tracker("request_human_after_case", sender_id=sender, text="客服很耐心", intent="inform")
    comment.slots.update(csat_case_id=case["case_id"], csat_comment="客服很耐心")
    _, messages = await run(StoreCsatComment(), comment, domain)
    assert responses(messages) == ["utter_csat_thanks"]
    assert (await store.get(case["case_id"]))["csat_comment"] == "客服很耐心"


@pytest.mark.asyncio
async def test_no_comment_stores_none_but_still_thanks(domain, make_tracker, store) -> None:
    case = await store.create(handoff.partial_case(make_tracker("request_human_after_case"), "customer_request"))
    tracker = make_tracker("request_human_after_case", text="no", intent="deny")
    tracker.slots.update(csat_case_id=case["case_id"], csat_comment="-")
    _, messages = await run(StoreCsatComment(), tracker, domain)
    assert responses(messages) == ["utter_csat_thanks"]
    assert "csat_comment" not in await store.get(case["case_id"])


@pytest.mark.asyncio
async def test_a_rating_without_a_number_is_asked_again(domain, make_tracker, store) -> None:
    tracker = make_tracker("request_human_after_case", text="it was fine", intent="rate", entities=[])
    _, messages = await run(StoreCsat(), tracker, domain)
    assert responses(messages) == ["utter_ask_csat"]


@pytest.mark.parametrize(
    "text, rating",
    [("5 stars", 5), ("4分", 4), ("俾5分", 5), ("五星", 5), ("給兩分", 2), ("★★★", 3), ("10/10", None), ("ok", None)],
)
def test_typed_ratings(make_tracker, text: str, rating: Optional[int]) -> None:
    assert parse_rating(make_tracker("request_human_after_case", text=text, intent="rate", entities=[])) == rating


def test_every_handoff_response_exists_in_every_language(domain) -> None:
    names = [
        "utter_handoff_queued", "utter_still_waiting", "utter_no_agents_callback", "utter_outside_hours_callback",
        "utter_ask_callback_time", "utter_callback_time_unclear", "utter_callback_booked", "utter_callback_declined",
        "utter_handoff_cancelled", "utter_csat_thanks", "utter_ask_csat_comment", *handoff.BRIDGE_NOTICES,
    ]
    for name in names:
        languages = {
            condition["value"] for variant in domain["responses"][name] for condition in variant["condition"]
        }
        assert languages == {"en", "zh-Hans", "zh-Hant"}, name
    payloads = [button["payload"] for button in domain["responses"]["utter_ask_csat"][0]["buttons"]]
    assert payloads == [f'/rate{{{{"rating":{n}}}}}' for n in (5, 4, 3, 2, 1)]


@pytest.mark.asyncio
async def test_details_given_while_waiting_reach_the_case(domain, make_tracker, store, new_sender) -> None:
    """A customer in the queue adds their order number: the agent will see it on the case."""
    from actions.slots import ValidateSlotMappings

    sender = new_sender("details")
    await add_agent(store)
    await run(RequestHuman(), make_tracker("request_human_after_case", sender_id=sender), domain)
    owner = await ownership.current(store.client, store.keys, sender)
    assert owner.state == ownership.QUEUED and owner.case_id

    detail = make_tracker(
        "request_human_after_case", sender_id=sender, text="the order number is ZZ909091", intent="inform",
        extracted={"order_ref": "ZZ909091"},
    )
    await run(ValidateSlotMappings(), detail, domain)
    case = await store.get(owner.case_id)
    assert case is not None and case["order_ref"] == "ZZ909091"


@pytest.mark.asyncio
async def test_details_outside_a_handoff_touch_no_case(domain, make_tracker, store, new_sender) -> None:
    """Without a waiting handoff, extracting slots writes nothing to Redis cases."""
    from actions.slots import ValidateSlotMappings

    sender = new_sender("nohandoff")
    detail = make_tracker(
        "request_human_after_case", sender_id=sender, text="the order number is ZZ909092", intent="inform",
        extracted={"order_ref": "ZZ909092"},
    )
    await run(ValidateSlotMappings(), detail, domain)
    assert (await ownership.current(store.client, store.keys, sender)).state == ownership.BOT
