"""Telling a customer the status of their case, only after they prove it is theirs."""

from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import render, runtime


class CheckStatus(Action):
    """action_check_status: a wrong contact or number gets the same answer, revealing nothing."""

    def name(self) -> str:
        return "action_check_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        store = runtime.case_store()
        reset = [SlotSet("case_id", None), SlotSet("verify_contact", None)]
        attempts = await store.count_status_attempt(tracker.sender_id)
        case = None
        if attempts <= runtime.settings().status_attempts_per_hour:
            case = await store.find_owned(
                tracker.get_slot("case_id") or "", tracker.get_slot("verify_contact") or ""
            )
        if case is None:
            dispatcher.utter_message(response="utter_case_not_found")
            return reset
        language = render.language_of(tracker)
        dispatcher.utter_message(
            response="utter_case_status",
            case_id=case["case_id"],
            status_label=render.label(domain, "status", case.get("status"), language),
            category_label=render.label(domain, "category", case.get("category"), language),
            created_at=case.get("created_at", "")[:16].replace("T", " "),
            response_due=case.get("response_due", "")[:16].replace("T", " "),
        )
        return reset
