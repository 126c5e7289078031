"""Conversation repair: misunderstandings, abuse, and requests for a person."""

from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import handoff, runtime

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
    """action_request_human: queue the enriched case for a person, or offer a callback (actions.handoff)."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        return await handoff.request_person(dispatcher, tracker, domain)
