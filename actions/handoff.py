"""Handing a conversation to a person: the enriched case, the queue, and the honest wait.

The owner state machine (handoff.ownership) decides whether a request enqueues the
case or only tells the customer where they stand. Outside business hours, or with
nobody online, the customer is offered a callback instead (a yes starts callback_form,
see data/rules/handoff.yml and actions.handoff_actions); with agents online but all
busy the case is queued and a callback is offered as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import redis.asyncio as aioredis
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import render, runtime, tone
from actions.case_store import NewCase
from actions.complaint import FORM_SLOTS
from actions.slots import latest_intent
from handoff import agents, conversation_log, ownership, queue
from handoff.keys import Keys
from handoff.settings import HandoffSettings

CUSTOMER_REQUEST = "customer_request"
REPEATED_MISUNDERSTANDING = "repeated_misunderstanding"
WAITING_STATES = frozenset({ownership.QUEUED, ownership.OFFERED, ownership.AGENT})
ENQUEUE_FROM = frozenset({ownership.BOT, ownership.CLOSED, ownership.HANDED_BACK})
FIELD_NAMES = ("description", "order_ref", "incident_date", "desired_outcome", "contact")
TIER_BONUS = {"standard": 0, "silver": 5, "gold": 15, "vip": 25, "platinum": 25}
REASON_PHRASES = {CUSTOMER_REQUEST: "asked for a person", REPEATED_MISUNDERSTANDING: "bot misunderstood twice"}
# System notices the handoff bridge renders from bot/domain/responses/handoff.yml (not sent by an action).
BRIDGE_NOTICES = (
    "utter_agent_joined", "utter_agent_left", "utter_case_resolved", "utter_handed_back", "utter_ask_csat",
    "utter_queue_moved",
)
SUMMARY_MAX_CHARS = 199
TRANSCRIPT_MAX_ENTRIES = 300


def utcnow() -> datetime:
    """The current time (a seam for tests)."""
    return datetime.now(timezone.utc)


def handoff_settings() -> HandoffSettings:
    """Business hours and handle-time defaults, read from the environment."""
    return HandoffSettings.from_env()


def redis_parts() -> tuple[aioredis.Redis, Keys]:
    """The action server's Redis client and key names."""
    store = runtime.case_store()
    return store.client, store.keys


@dataclass(frozen=True)
class Staffing:
    """Who could take a chat now."""

    is_open: bool
    online: int
    available: int


async def staffing(client: aioredis.Redis, keys: Keys, settings: HandoffSettings, now: datetime) -> Staffing:
    """Whether we are open, and how many agents are online and available."""
    everyone = await agents.list_agents(client, keys)
    online = [agent for agent in everyone if agent.presence != "offline"]
    available = [agent for agent in online if agent.presence == "available"]
    return Staffing(settings.is_open(now), len(online), len(available))


async def wait_minutes(client: aioredis.Redis, keys: Keys, settings: HandoffSettings, position: int) -> int:
    """The estimated wait for a place in the queue, rounded up to whole minutes (at least 1)."""
    available = len(await agents.available_agents(client, keys))
    average = await queue.average_handle_seconds(client, keys, settings.default_handle_minutes * 60)
    seconds = queue.wait_estimate_seconds(position, available, average)
    return max(1, math.ceil(seconds / 60))


def frustration_trajectory(tracker: Tracker) -> List[float]:
    """How upset each customer turn sounded, oldest first, ending with the conversation's score."""
    texts = [event.get("text") or "" for event in tracker.events if event.get("event") == "user"]
    scores = [tone.frustration_score(text) for text in texts]
    current = float(tracker.get_slot("frustration") or 0)
    if not scores or scores[-1] < current:
        scores.append(current)
    return [round(score, 2) for score in scores[-50:]]


def priority(frustration: float, reasons: List[str], value_tier: str, emergency: bool) -> int:
    """0-100: a base, how upset, how many reasons, how valuable, and emergencies on top."""
    score = 20 + 40 * frustration + 10 * len(reasons) + TIER_BONUS.get(value_tier, 0) + (30 if emergency else 0)
    return max(0, min(100, round(score)))


def summary(domain: DomainDict, category: str, fields: Dict[str, str], reasons: List[str]) -> str:
    """One English line for agents: category, order, wanted outcome and why a person was asked for."""
    order = fields.get("order_ref") or "-"
    head = render.label(domain, "category", category, "en") or category
    if order != "-":
        head += f" ({order})"
    parts = [head, f"wants {render.label(domain, 'outcome', fields.get('desired_outcome'), 'en').lower()}"]
    parts.extend(REASON_PHRASES.get(reason, reason) for reason in reasons)
    text = "; ".join(parts) + "."
    return text if len(text) <= SUMMARY_MAX_CHARS else text[: SUMMARY_MAX_CHARS - 1] + "…"


async def past_cases(client: aioredis.Redis, keys: Keys, sender_id: str, exclude: str) -> List[Dict[str, str]]:
    """The conversation's earlier cases: id, category and status."""
    listed = await client.lrange(keys.cases_of_sender(sender_id), 0, -1)
    case_ids = [case_id for case_id in listed if case_id != exclude]
    found = []
    for case_id in case_ids[-20:]:
        category, status = await client.hmget(keys.case(case_id), ["category", "status"])
        found.append({"case_id": case_id, "category": category or "other", "status": status or "open"})
    return found


async def transcript(client: aioredis.Redis, keys: Keys, conversation_id: str) -> List[Dict[str, str]]:
    """The conversation log as the agent sees it: id, author, text and time."""
    entries = await conversation_log.read_after(client, keys, conversation_id, count=TRANSCRIPT_MAX_ENTRIES)
    return [
        {
            "id": entry.id,
            "author": entry.author,
            "text": entry.text,
            "at": datetime.fromtimestamp(entry.ts, timezone.utc).isoformat(timespec="seconds"),
        }
        for entry in entries
    ]


def case_fields(tracker: Tracker, record: Dict[str, str]) -> Dict[str, str]:
    """The complaint facts: what the stored case holds, updated with anything newer in the slots."""
    fields = {name: record.get(name, "") for name in FIELD_NAMES}
    for name in FIELD_NAMES:
        value = tracker.get_slot(name)
        if value not in (None, ""):
            fields[name] = str(value)
    return fields


async def build_enriched(
    tracker: Tracker, domain: DomainDict, record: Dict[str, str], reasons: List[str], now: datetime
) -> Dict[str, Any]:
    """The enriched case of handoff/PROTOCOL.md, from the tracker, the stored case and the log."""
    client, keys = redis_parts()
    case_id = record["case_id"]
    fields = case_fields(tracker, record)
    category = tracker.get_slot("category") or record.get("category") or "other"
    value_tier = tracker.get_slot("value_tier") or "standard"
    trajectory = frustration_trajectory(tracker)
    emergency = category == "safety"
    settings = runtime.settings()
    hours = settings.urgent_response_hours if emergency else settings.response_hours
    return {
        "case_id": case_id,
        "conversation_id": tracker.sender_id,
        "channel": tracker.get_latest_input_channel() or record.get("channel") or "unknown",
        "language": render.language_of(tracker),
        "category": category,
        "fields": fields,
        "customer": {
            "contact": fields.get("contact", ""),
            "value_tier": value_tier,
            "past_cases": await past_cases(client, keys, tracker.sender_id, case_id),
        },
        "reasons": reasons,
        "frustration": trajectory,
        "summary": summary(domain, category, fields, reasons),
        "priority": priority(max(trajectory), reasons, value_tier, emergency),
        "emergency": emergency,
        "needs_authority": fields.get("desired_outcome") == "compensation",
        "sla_due": (now + timedelta(hours=hours)).isoformat(timespec="seconds"),
        "transcript": await transcript(client, keys, tracker.sender_id),
    }


def request_reason(tracker: Tracker) -> str:
    """Why a person is wanted: asked outright, or the accepted offer after misunderstandings."""
    return CUSTOMER_REQUEST if latest_intent(tracker) == "request_human" else REPEATED_MISUNDERSTANDING


def partial_case(tracker: Tracker, reason: str) -> NewCase:
    """A case from whatever the complaint form holds, for a person to complete."""
    return NewCase(
        sender_id=tracker.sender_id,
        channel=tracker.get_latest_input_channel() or "unknown",
        language=render.language_of(tracker),
        category=tracker.get_slot("category") or "other",
        description=tracker.get_slot("description") or "",
        order_ref=tracker.get_slot("order_ref") or "-",
        incident_date=tracker.get_slot("incident_date") or "-",
        desired_outcome=tracker.get_slot("desired_outcome") or "explanation",
        contact=tracker.get_slot("contact") or "",
        status="needs_human",
        urgent=tracker.get_slot("category") == "safety",
        abuse_flagged=float(tracker.get_slot("abuse_count") or 0) >= 1,
        escalation_reasons=[reason],
        frustration=float(tracker.get_slot("frustration") or 0),
    )


async def prepare_case(tracker: Tracker, domain: DomainDict, reason: str, now: datetime) -> Dict[str, Any]:
    """Create the case (or flag the last one) as needing a person, with the enriched case on it."""
    store = runtime.case_store()
    case_id = None if tracker.active_loop_name else tracker.get_slot("last_case_id")
    record = await store.get(case_id) if case_id else None
    if record is None:
        record = await store.create(partial_case(tracker, reason), now=now)
    enriched = await build_enriched(tracker, domain, record, [reason], now)
    await store.flag(record["case_id"], status="needs_human", escalation_reasons=[reason], enriched=enriched)
    return enriched


async def still_waiting(
    dispatcher: CollectingDispatcher, tracker: Tracker, owner: ownership.OwnerState
) -> List[EventType]:
    """Asked again while waiting: add anything new to the case and say where they stand."""
    client, keys = redis_parts()
    case_id = owner.case_id or tracker.get_slot("last_case_id")
    if case_id:
        news = {name: tracker.get_slot(name) for name in (*FIELD_NAMES, "category") if tracker.get_slot(name)}
        if news:
            await runtime.case_store().flag(case_id, **news)
    position = (await queue.position(client, keys, case_id) if case_id else None) or 1
    minutes = await wait_minutes(client, keys, handoff_settings(), position)
    dispatcher.utter_message(response="utter_still_waiting", position=position, wait_minutes=minutes)
    return _after_request(case_id)


async def add_details_while_waiting(tracker: Tracker, events: List[EventType]) -> Dict[str, str]:
    """Put complaint facts given while the customer waits for a person onto their case."""
    slot_events = {event["name"]: event["value"] for event in events if event.get("event") == "slot"}
    changed = {**tracker.slots_to_validate(), **slot_events}
    news = {name: str(changed[name]) for name in (*FIELD_NAMES, "category") if changed.get(name)}
    if not news:
        return {}
    client, keys = redis_parts()
    owner = await ownership.current(client, keys, tracker.sender_id)
    if owner.state not in WAITING_STATES or not owner.case_id:
        return {}
    await runtime.case_store().flag(owner.case_id, **news)
    return news


async def request_person(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
    """Queue the enriched case for a person, or offer a callback when nobody can take it."""
    client, keys = redis_parts()
    owner = await ownership.current(client, keys, tracker.sender_id)
    if owner.state in WAITING_STATES:
        return await still_waiting(dispatcher, tracker, owner)
    now = utcnow()
    settings = handoff_settings()
    enriched = await prepare_case(tracker, domain, request_reason(tracker), now)
    case_id = enriched["case_id"]
    staff = await staffing(client, keys, settings, now)
    if not staff.is_open:
        dispatcher.utter_message(
            response="utter_outside_hours_callback",
            case_id=case_id,
            open=settings.business_open,
            close=settings.business_close,
        )
        return _after_request(case_id, offer_callback=True)
    if staff.online == 0:
        dispatcher.utter_message(response="utter_no_agents_callback", case_id=case_id)
        return _after_request(case_id, offer_callback=True)
    try:
        await ownership.transition(
            client, keys, tracker.sender_id, ownership.QUEUED, expected_from=ENQUEUE_FROM,
            case_id=case_id, reason=",".join(enriched["reasons"]),
        )
    except ownership.TransitionRefused:
        return await still_waiting(dispatcher, tracker, await ownership.current(client, keys, tracker.sender_id))
    await queue.enqueue(client, keys, queue_entry(enriched, now))
    position = await queue.position(client, keys, case_id) or 1
    minutes = await wait_minutes(client, keys, settings, position)
    dispatcher.utter_message(response="utter_handoff_queued", case_id=case_id, position=position, wait_minutes=minutes)
    if staff.available == 0:  # online but all busy: they keep their place, and may take a callback instead
        dispatcher.utter_message(response="utter_no_agents_callback", case_id=case_id)
        return _after_request(case_id, offer_callback=True)
    return _after_request(case_id)


def queue_entry(enriched: Dict[str, Any], now: datetime) -> queue.QueueEntry:
    """What routing needs of an enriched case."""
    return queue.QueueEntry(
        case_id=enriched["case_id"],
        conversation_id=enriched["conversation_id"],
        language=enriched["language"],
        skills_needed=enriched["category"],
        needs_authority=enriched["needs_authority"],
        emergency=enriched["emergency"],
        priority=enriched["priority"],
        enqueued_at=now.timestamp(),
    )


def _after_request(case_id: Optional[str], offer_callback: bool = False) -> List[EventType]:
    """Close any form, clear its facts (they are on the case), and note whether a callback was offered."""
    events: List[EventType] = [
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        *[SlotSet(slot, None) for slot in FORM_SLOTS],
        SlotSet("correction_pending", False),
        SlotSet("human_offered", False),
        SlotSet("misunderstood_count", 0.0),
        SlotSet("last_case_id", case_id),
        SlotSet("callback_offered", offer_callback),
        SlotSet("callback_time", None),
    ]
    return events
