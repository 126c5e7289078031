"""Conversation repair: misunderstandings, abuse, and requests for a person."""

from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import render, runtime
from actions.case_store import NewCase
from actions.complaint import FORM_SLOTS
from actions.slots import latest_intent

REPHRASED_SLOTS = ("category", "description", "order_ref", "incident_date", "desired_outcome", "contact")


class HandleMisunderstanding(Action):
    """action_handle_misunderstanding: rephrase the question first, then offer a person."""

    def name(self) -> str:
        return "action_handle_misunderstanding"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        count = float(tracker.get_slot("misunderstood_count") or 0) + 1
        if count >= 2:
            dispatcher.utter_message(response="utter_offer_human")
            return [SlotSet("misunderstood_count", count), SlotSet("human_offered", True)]
        requested = tracker.get_slot("requested_slot") if tracker.active_loop_name else None
        response = f"utter_rephrase_{requested}" if requested in REPHRASED_SLOTS else "utter_rephrase_generic"
        dispatcher.utter_message(response=response)
        return [SlotSet("misunderstood_count", count)]


class DeclineHuman(Action):
    """action_decline_human: the customer would rather carry on with the assistant."""

    def name(self) -> str:
        return "action_decline_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_handoff_declined")
        return [SlotSet("human_offered", False), SlotSet("misunderstood_count", 0.0)]


class HandleAbuse(Action):
    """action_handle_abuse: one calm boundary; repeated abuse ends politely and is flagged."""

    def name(self) -> str:
        return "action_handle_abuse"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        count = float(tracker.get_slot("abuse_count") or 0) + 1
        if count < 2:
            dispatcher.utter_message(response="utter_abuse_boundary")
            return [SlotSet("abuse_count", count)]
        case_id = tracker.get_slot("last_case_id")
        if case_id:
            await runtime.case_store().flag(case_id, abuse_flagged=True)
        dispatcher.utter_message(response="utter_abuse_end")
        return [SlotSet("abuse_count", count), ActiveLoop(None), SlotSet("requested_slot", None)]


class RequestHuman(Action):
    """action_request_human: until the live-agent bridge lands, the case is marked for a person.

    Everything collected so far goes onto a case with status needs_human and the
    reason, so whoever picks it up does not start from zero.
    """

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        store = runtime.case_store()
        reason = "customer_request" if latest_intent(tracker) == "request_human" else "repeated_misunderstanding"
        case_id = None if tracker.active_loop_name else tracker.get_slot("last_case_id")
        if case_id:
            await store.flag(case_id, status="needs_human", escalation_reasons=[reason])
        else:
            record = await store.create(_partial_case(tracker, reason))
            case_id = record["case_id"]
        dispatcher.utter_message(response="utter_handoff_requested", case_id=case_id)
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            *[SlotSet(slot, None) for slot in FORM_SLOTS],
            SlotSet("correction_pending", False),
            SlotSet("human_offered", False),
            SlotSet("misunderstood_count", 0.0),
            SlotSet("last_case_id", case_id),
        ]


def _partial_case(tracker: Tracker, reason: str) -> NewCase:
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
