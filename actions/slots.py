"""Global slot extraction that runs after every customer message: language and counters."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.vocabulary import CATEGORIES, OUTCOMES

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
MISUNDERSTOOD_INTENTS = ("nlu_fallback", "nonsense")
COMPLAINT_INTENTS = ("complain", "inform")


def latest_entity(tracker: Tracker, entity: str) -> Any:
    """The value of the last entity of that type in the latest message, or None."""
    values = [e.get("value") for e in tracker.latest_message.get("entities", []) if e.get("entity") == entity]
    return values[-1] if values else None


def first_valid_entity(tracker: Tracker, entity: str, allowed: Iterable[str]) -> Optional[str]:
    """The first value of that entity type in the latest message that is one of the allowed values.

    Several extractors may report the same entity; DIET can also report a raw span
    that no synonym maps, so the first canonical value wins.
    """
    allowed_values = set(allowed)
    for candidate in tracker.latest_message.get("entities", []):
        if candidate.get("entity") == entity and candidate.get("value") in allowed_values:
            return str(candidate["value"])
    return None


def latest_intent(tracker: Tracker) -> str:
    """The name of the latest message's intent."""
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def choose_language(detected: Any, current: Any) -> Any:
    """Keep the conversation's Chinese script when a message could be either script."""
    if detected in LANGUAGES:
        return detected
    if detected == "zh":
        return current if current in ("zh-Hans", "zh-Hant") else "zh-Hans"
    return None


class ValidateSlotMappings(ValidationAction):
    """action_validate_slot_mappings: language follows the customer's latest message."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        """Extract as usual; while the customer waits for a person, new facts also go onto the case."""
        events = await super().run(dispatcher, tracker, domain)
        from actions.handoff import add_details_while_waiting  # actions.handoff imports this module

        await add_details_while_waiting(tracker, events)
        return events

    async def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Switch language when the customer writes in another language or script."""
        chosen = choose_language(latest_entity(tracker, "language"), tracker.get_slot("language"))
        return {"language": chosen} if chosen and chosen != tracker.get_slot("language") else {}

    async def extract_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A canonical category from a complaint or a detail (not from an FAQ question about refunds)."""
        if tracker.active_loop_name or latest_intent(tracker) not in COMPLAINT_INTENTS:
            return {}
        named = first_valid_entity(tracker, "category", CATEGORIES)
        return {"category": named} if named else {}

    async def extract_desired_outcome(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A canonical desired outcome from a complaint or a detail."""
        if tracker.active_loop_name or latest_intent(tracker) not in COMPLAINT_INTENTS:
            return {}
        named = first_valid_entity(tracker, "desired_outcome", OUTCOMES)
        return {"desired_outcome": named} if named else {}

    async def extract_misunderstood_count(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Any understood message ends a run of misunderstandings."""
        if latest_intent(tracker) not in MISUNDERSTOOD_INTENTS and tracker.get_slot("misunderstood_count"):
            return {"misunderstood_count": 0.0}
        return {}

    async def extract_human_offered(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """An offer of a person stands for the next answer only."""
        if tracker.get_slot("human_offered") and latest_intent(tracker) not in ("affirm", "deny"):
            return {"human_offered": False}
        return {}

    async def extract_callback_offered(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """An offered callback stands for the next answer only, like an offered person."""
        if tracker.get_slot("callback_offered") and latest_intent(tracker) not in ("affirm", "deny"):
            return {"callback_offered": False}
        return {}
