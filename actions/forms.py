"""The complaint and status forms: extraction from free text and validation of each slot."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import parsing, render
from actions.slots import first_valid_entity, latest_entity, latest_intent
from actions.vocabulary import CATEGORIES, OUTCOMES

CORRECTABLE_FIELDS = ("category", "description", "order_ref", "incident_date", "desired_outcome", "contact")
NOT_ANSWERS = ("request_human", "abuse", "check_status", "nlu_fallback", "nonsense")


def _answer_text(tracker: Tracker) -> Optional[str]:
    """The latest message when it is typed text meant as an answer, else None."""
    text = (tracker.latest_message.get("text") or "").strip()
    if not text or text.startswith("/") or latest_intent(tracker) in NOT_ANSWERS:
        return None
    return text


def _requested(tracker: Tracker) -> Optional[str]:
    return tracker.get_slot("requested_slot")


class ValidateComplaintForm(FormValidationAction):
    """validate_complaint_form: fills several facts from one message, never re-asks a known one."""

    def name(self) -> str:
        return "validate_complaint_form"

    async def required_slots(
        self, domain_slots: List[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[str]:
        """The domain's slots plus correction_pending, so its value is kept (it is never empty)."""
        return [*domain_slots, "correction_pending"]

    async def extract_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A canonical category from any extractor or a button; "other" when the customer doesn't know."""
        named = first_valid_entity(tracker, "category", CATEGORIES)
        if named:
            return {"category": named}
        if _requested(tracker) == "category" and latest_intent(tracker) == "dont_know":
            return {"category": "other"}
        return {}

    async def extract_desired_outcome(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A canonical outcome; "an explanation" when the customer is not sure what they want."""
        named = first_valid_entity(tracker, "desired_outcome", OUTCOMES)
        if named:
            return {"desired_outcome": named}
        if _requested(tracker) == "desired_outcome" and latest_intent(tracker) == "dont_know":
            return {"desired_outcome": "explanation"}
        return {}

    async def extract_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """The customer's own words: the answer when asked, or any substantive complaint text."""
        text = _answer_text(tracker)
        current = tracker.get_slot("description")
        if text is None:
            return {}
        if _requested(tracker) == "description" and latest_intent(tracker) != "dont_know":
            return {"description": text}
        if not current and parsing.is_substantive(text):
            return {"description": text}
        is_more_detail = latest_intent(tracker) == "complain" and parsing.is_substantive(text)
        if current and is_more_detail and text not in current:
            return {"description": f"{current} / {text}"}
        return {}

    async def extract_order_ref(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """An order number typed in any form, or "skip", when the form asked for it."""
        text = _answer_text(tracker)
        if _requested(tracker) != "order_ref" or text is None or latest_entity(tracker, "order_id"):
            return {}
        if parsing.is_skip(text) or latest_intent(tracker) == "dont_know":
            return {"order_ref": "-"}
        return {"order_ref": parsing.find_order_ref(text) or text}

    async def extract_contact(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A phone or email typed in any format when the form asked for a contact."""
        text = (tracker.latest_message.get("text") or "").strip()
        if _requested(tracker) != "contact" or not text or text.startswith("/"):
            return {}
        return {"contact": parsing.find_contact(text) or text}

    async def extract_summary_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """At the read-back: yes submits, no asks which field, a chosen field is asked again."""
        if _requested(tracker) != "summary_confirmed":
            return {}
        field = latest_entity(tracker, "field")
        if field in CORRECTABLE_FIELDS:
            return {field: None, "summary_confirmed": None, "correction_pending": False}
        intent = latest_intent(tracker)
        if intent == "affirm":
            return {"summary_confirmed": True, "correction_pending": False}
        if intent == "deny":
            return {"correction_pending": True}
        return {}

    def validate_correction_pending(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Whether the next question is "which part should I change?"."""
        return {"correction_pending": bool(value)}

    def validate_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Only the known categories; another extractor's canonical value wins over a raw span."""
        if value in CATEGORIES:
            return {"category": value}
        return {"category": first_valid_entity(tracker, "category", CATEGORIES)}

    def validate_desired_outcome(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Only the known outcomes; another extractor's canonical value wins over a raw span."""
        if value in OUTCOMES:
            return {"desired_outcome": value}
        return {"desired_outcome": first_valid_entity(tracker, "desired_outcome", OUTCOMES)}

    def validate_order_ref(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """ZZ555666, ORD-20261101, 8-12 digits, or "-" for none."""
        if value is None:
            return {"order_ref": None}
        if value == "-":
            _acknowledge_skip(dispatcher, tracker, "order_ref")
            return {"order_ref": "-"}
        reference = parsing.find_order_ref(str(value))
        if reference is None:
            dispatcher.utter_message(response="utter_invalid_order_ref")
        return {"order_ref": reference}

    def validate_incident_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Any wording of a date is fine ("last week sometime"), bounded in length."""
        if value == "-":
            _acknowledge_skip(dispatcher, tracker, "incident_date")
        text = str(value or "").strip()[:100]
        return {"incident_date": text or None}

    def validate_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A valid phone (mainland, HK, TW, international) or email, normalised."""
        if value is None:
            return {"contact": None}
        contact = parsing.find_contact(str(value))
        if contact is None:
            typed = (tracker.latest_message.get("text") or "").strip()
            refused = parsing.is_skip(typed) or latest_intent(tracker) == "dont_know"
            dispatcher.utter_message(response="utter_contact_required" if refused else "utter_invalid_contact")
        return {"contact": contact}


def _acknowledge_skip(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> None:
    """Say "no problem" when the customer skipped the question just asked."""
    if _requested(tracker) == slot:
        dispatcher.utter_message(response="utter_skip_ok")


class AskSummaryConfirmed(Action):
    """action_ask_summary_confirmed: read the complaint back, or ask which field to change."""

    def name(self) -> str:
        return "action_ask_summary_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        if tracker.get_slot("correction_pending"):
            dispatcher.utter_message(response="utter_ask_field_to_correct")
            return []
        language = render.language_of(tracker)
        dispatcher.utter_message(
            response="utter_complaint_summary",
            category_label=render.label(domain, "category", tracker.get_slot("category"), language),
            description=tracker.get_slot("description") or "",
            order_ref=_or_not_given(domain, tracker.get_slot("order_ref"), language),
            incident_date=_or_not_given(domain, tracker.get_slot("incident_date"), language),
            desired_outcome_label=render.label(domain, "outcome", tracker.get_slot("desired_outcome"), language),
            contact=tracker.get_slot("contact") or "",
        )
        dispatcher.utter_message(response="utter_ask_summary_confirmed")
        return []


def _or_not_given(domain: DomainDict, value: Optional[str], language: str) -> str:
    """The value, or the localized "not given"."""
    if not value or value == "-":
        return render.text(domain, "utter_label_not_given", language)
    return value


class ValidateStatusForm(FormValidationAction):
    """validate_status_form: a case number in any spelling, then the contact to prove ownership."""

    def name(self) -> str:
        return "validate_status_form"

    def validate_case_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Canonical CMP-YYYYMMDD-NNNN, or ask again."""
        case_id = parsing.find_case_id(str(value or ""))
        if case_id is None:
            dispatcher.utter_message(response="utter_invalid_case_id")
        return {"case_id": case_id}

    def validate_verify_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Keep what was typed; the lookup compares it with the case in one place."""
        return {"verify_contact": str(value or "").strip()[:200] or None}
