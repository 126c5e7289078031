"""Opening a complaint with an acknowledgement, and submitting it as a case."""

from __future__ import annotations

import logging
from typing import Any, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import parsing, render, runtime, tone
from actions.case_store import NewCase
from actions.slots import first_valid_entity, latest_intent
from actions.vocabulary import CATEGORIES

logger = logging.getLogger(__name__)

FORM_SLOTS = ("category", "description", "order_ref", "incident_date", "desired_outcome", "summary_confirmed")


class AcknowledgeComplaint(Action):
    """action_acknowledge_complaint: an acknowledgement fitting the category and the mood."""

    def name(self) -> str:
        return "action_acknowledge_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        message = tracker.latest_message.get("text") or ""
        named = first_valid_entity(tracker, "category", CATEGORIES)
        says_what_happened = parsing.is_substantive(message)
        if latest_intent(tracker) == "inform" and not named and not says_what_happened:
            return []  # a bare detail (an order number) needs no acknowledgement
        category = named or tracker.get_slot("category")
        category = category if category in CATEGORIES else "other"
        score = max(tone.frustration_score(message), float(tracker.get_slot("frustration") or 0))
        mood = "upset" if score >= tone.UPSET_THRESHOLD else "calm"
        acknowledgement = render.choose_text(
            domain, f"utter_ack_{category}_{mood}", render.language_of(tracker),
            avoid=tracker.get_slot("last_ack"),
        )
        events: List[EventType] = [SlotSet("last_ack", acknowledgement), SlotSet("frustration", score)]
        if named:
            events.append(SlotSet("category", named))
        if acknowledgement:
            dispatcher.utter_message(text=acknowledgement)
        if not tracker.get_slot("description") and says_what_happened:
            events.append(SlotSet("description", message))
        return events


class SubmitComplaint(Action):
    """action_submit_complaint: store the case and give the customer its number at once."""

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        case = NewCase(
            sender_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            language=render.language_of(tracker),
            category=_slot(tracker, "category", "other"),
            description=_slot(tracker, "description", ""),
            order_ref=_slot(tracker, "order_ref", "-"),
            incident_date=_slot(tracker, "incident_date", "-"),
            desired_outcome=_slot(tracker, "desired_outcome", "explanation"),
            contact=_slot(tracker, "contact", ""),
            urgent=tracker.get_slot("category") == "safety",
            abuse_flagged=float(tracker.get_slot("abuse_count") or 0) >= 1,
            frustration=float(tracker.get_slot("frustration") or 0),
        )
        record = await runtime.case_store().create(case)
        logger.info("Created case %s for %s", record["case_id"], parsing.mask_contact(case.contact))
        dispatcher.utter_message(
            response="utter_case_created",
            case_id=record["case_id"],
            response_hours=record["response_hours"],
            contact=case.contact,
        )
        return [
            *[SlotSet(slot, None) for slot in FORM_SLOTS],
            SlotSet("correction_pending", False),
            SlotSet("last_case_id", record["case_id"]),
        ]


def _slot(tracker: Tracker, name: str, default: Any) -> Any:
    value = tracker.get_slot(name)
    return default if value in (None, "") else value
