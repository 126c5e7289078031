"""Actions around a handoff: callbacks, cancelling the request for a person, and CSAT."""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import handoff, parsing, render, runtime
from actions.callback_time import chinese_number, parse_callback_time
from actions.slots import latest_entity
from handoff import ownership, queue

logger = logging.getLogger(__name__)

CANCELLABLE = frozenset({ownership.QUEUED, ownership.OFFERED})
CALLBACK_HORIZON = timedelta(days=14)
_WEEKDAYS = {"zh-Hans": "一二三四五六日", "zh-Hant": "一二三四五六日"}
_WEEK_WORD = {"zh-Hans": "周", "zh-Hant": "週"}
_RATING = re.compile(r"(?<!\d)([1-5])(?!\d)|([一二两兩三四五])\s*(?:分|星|粒星|颗星|顆星)")


def format_callback_time(moment: datetime, language: str) -> str:
    """A local date and time the way the customer reads it."""
    if language in _WEEKDAYS:
        weekday = _WEEK_WORD[language] + _WEEKDAYS[language][moment.weekday()]
        return f"{moment.month}月{moment.day}日（{weekday}）{moment:%H:%M}"
    return f"{moment:%a %d %b}, {moment:%H:%M}"


def parse_rating(tracker: Tracker) -> Optional[int]:
    """A 1-5 rating from the button's entity, a typed number, Chinese numeral or a row of stars."""
    value = latest_entity(tracker, "rating")
    text = unicodedata.normalize("NFKC", str(tracker.latest_message.get("text") or ""))
    if value is None:
        stars = text.count("★") + text.count("⭐")
        match = _RATING.search(text)
        if match:
            value = match.group(1) or chinese_number(match.group(2))
        elif 1 <= stars <= 5:
            value = stars
    try:
        rating = int(str(value))
    except (TypeError, ValueError):
        return None
    return rating if 1 <= rating <= 5 else None


class ValidateCallbackForm(FormValidationAction):
    """validate_callback_form: a time we can call within business hours, and a contact to call."""

    def name(self) -> str:
        return "validate_callback_form"

    async def extract_contact(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A phone or email typed in any format when the form asked for it."""
        text = (tracker.latest_message.get("text") or "").strip()
        if tracker.get_slot("requested_slot") != "contact" or not text or text.startswith("/"):
            return {}
        return {"contact": parsing.find_contact(text) or text}

    def validate_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A valid phone or email, normalised."""
        if value is None:
            return {"contact": None}
        contact = parsing.find_contact(str(value or ""))
        if contact is None:
            dispatcher.utter_message(response="utter_invalid_contact")
        return {"contact": contact}

    def validate_callback_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """The typed time as an ISO moment in business hours, or ask again with an example."""
        if value is None:
            return {"callback_time": None}
        settings = handoff.handoff_settings()
        now = handoff.utcnow().astimezone(settings.zone())
        moment = _stored_moment(value) or parse_callback_time(str(value or ""), now)
        if moment is None or moment <= now or moment > now + CALLBACK_HORIZON or not settings.is_open(moment):
            dispatcher.utter_message(
                response="utter_callback_time_unclear", open=settings.business_open, close=settings.business_close
            )
            return {"callback_time": None}
        return {"callback_time": moment.isoformat(timespec="minutes")}


def _stored_moment(value: Any) -> Optional[datetime]:
    """A value this form already validated (an aware ISO time), else None."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _end_callback_form() -> List[EventType]:
    """Forget the offered callback; rules close the form itself with action_deactivate_loop."""
    return [SlotSet("callback_time", None), SlotSet("callback_offered", False)]


class BookCallback(Action):
    """action_book_callback: record the promised callback where agents track it, and confirm."""

    def name(self) -> str:
        return "action_book_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        client, keys = handoff.redis_parts()
        store = runtime.case_store()
        settings = handoff.handoff_settings()
        due = datetime.fromisoformat(str(tracker.get_slot("callback_time"))).astimezone(settings.zone())
        case_id = tracker.get_slot("last_case_id")
        if not case_id:
            record = await store.create(handoff.partial_case(tracker, handoff.CUSTOMER_REQUEST))
            case_id = record["case_id"]
        contact = tracker.get_slot("contact") or ""
        language = render.language_of(tracker)
        async with client.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.callbacks(), {case_id: due.timestamp()})
            pipe.hset(
                keys.callback(case_id),
                mapping={
                    "case_id": case_id,
                    "conversation_id": tracker.sender_id,
                    "due_at": due.isoformat(timespec="minutes"),
                    "contact": contact,
                    "language": language,
                    "status": "pending",
                },
            )
            await pipe.execute()
        await store.flag(case_id, callback_due=due.isoformat(timespec="minutes"), contact=contact)
        logger.info("Callback for case %s due %s", case_id, due.isoformat(timespec="minutes"))
        dispatcher.utter_message(response="utter_callback_booked", callback_time=format_callback_time(due, language))
        return [SlotSet("callback_time", None), SlotSet("callback_offered", False), SlotSet("last_case_id", case_id)]


class SkipCallback(Action):
    """action_skip_callback: no callback wanted; a queued customer keeps their place."""

    def name(self) -> str:
        return "action_skip_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        client, keys = handoff.redis_parts()
        owner = await ownership.current(client, keys, tracker.sender_id)
        events = _end_callback_form()
        if owner.state in CANCELLABLE:
            return events + await handoff.still_waiting(dispatcher, tracker, owner)
        dispatcher.utter_message(response="utter_callback_declined")
        return events


class CancelHandoff(Action):
    """action_cancel_handoff: the customer no longer wants a person; leave the queue, drop the callback."""

    def name(self) -> str:
        return "action_cancel_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        client, keys = handoff.redis_parts()
        owner = await ownership.current(client, keys, tracker.sender_id)
        case_id = owner.case_id or tracker.get_slot("last_case_id")
        changed = False
        if owner.state in CANCELLABLE and case_id:
            await queue.cancel(client, keys, case_id)
            try:
                await ownership.transition(
                    client, keys, tracker.sender_id, ownership.BOT, expected_from=CANCELLABLE,
                    reason="customer_cancelled",
                )
                changed = True
            except ownership.TransitionRefused as refused:
                logger.info("Cancel for %s came too late: now %s", case_id, refused.current)
        if case_id and await client.hget(keys.callback(case_id), "status") == "pending":
            await client.hset(keys.callback(case_id), "status", "cancelled")
            await client.zrem(keys.callbacks(), case_id)
            changed = True
        if changed and case_id:
            await runtime.case_store().flag(case_id, status="open", handoff_cancelled_at=handoff.utcnow().isoformat())
        dispatcher.utter_message(response="utter_handoff_cancelled")
        return _end_callback_form()


class StoreCsat(Action):
    """action_store_csat: keep the customer's 1-5 rating on the case; the bot owns the chat again."""

    def name(self) -> str:
        return "action_store_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        rating = parse_rating(tracker)
        if rating is None:
            dispatcher.utter_message(response="utter_ask_csat")
            return []
        client, keys = handoff.redis_parts()
        owner = await ownership.current(client, keys, tracker.sender_id)
        case_id = owner.case_id or tracker.get_slot("last_case_id")
        if case_id:
            await runtime.case_store().flag(case_id, csat_rating=rating, csat_at=handoff.utcnow().isoformat())
        if owner.state == ownership.HANDED_BACK:
            try:
                await ownership.transition(
                    client, keys, tracker.sender_id, ownership.BOT, expected_from={ownership.HANDED_BACK},
                    reason="csat",
                )
            except ownership.TransitionRefused as refused:
                logger.info("CSAT for %s: conversation is now %s", case_id, refused.current)
        return [SlotSet("csat_case_id", case_id), SlotSet("csat_comment", None)]


class StoreCsatComment(Action):
    """action_store_csat_comment: keep the optional comment that follows a rating, then thank."""

    def name(self) -> str:
        return "action_store_csat_comment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        case_id = tracker.get_slot("csat_case_id")
        comment = str(tracker.get_slot("csat_comment") or "").strip()
        if case_id and comment and comment != "-":
            await runtime.case_store().flag(case_id, csat_comment=comment[:1000])
        if case_id:
            dispatcher.utter_message(response="utter_csat_thanks")
        return [SlotSet("csat_case_id", None), SlotSet("csat_comment", None)]
