"""Pick and fill response texts from the domain, so the words stay in YAML for editors."""

from __future__ import annotations

import random
import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.types import DomainDict

DEFAULT_LANGUAGE = "en"
_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


def language_of(tracker: Tracker) -> str:
    """The customer's language as the conversation knows it."""
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


def variants(domain: DomainDict, response: str, language: str) -> List[Dict[str, Any]]:
    """The variants of a response written for one language."""
    found = []
    for variant in domain.get("responses", {}).get(response, []):
        for condition in variant.get("condition") or []:
            if condition.get("name") == "language" and condition.get("value") == language:
                found.append(variant)
    return found


def fill(template: str, values: Dict[str, Any]) -> str:
    """Replace {name} placeholders the way Rasa does; unknown names stay as written."""
    return _PLACEHOLDER.sub(
        lambda match: str(values.get(match.group(1), match.group(0))), template
    )


def text(domain: DomainDict, response: str, language: str, **values: Any) -> str:
    """The first variant's text of a response in a language, filled; "" if missing."""
    found = variants(domain, response, language)
    return fill(found[0].get("text", ""), values) if found else ""


def choose_text(
    domain: DomainDict, response: str, language: str, avoid: Optional[str] = None
) -> str:
    """A random variant's text, never the one given in `avoid` when there is a choice."""
    texts = [variant.get("text", "") for variant in variants(domain, response, language)]
    fresh = [candidate for candidate in texts if candidate != avoid] or texts
    return random.choice(fresh) if fresh else ""


def label(domain: DomainDict, kind: str, value: Optional[str], language: str) -> str:
    """A localized label like utter_label_category_billing; "not given" for empty values."""
    if not value or value == "-":
        return text(domain, "utter_label_not_given", language)
    return text(domain, f"utter_label_{kind}_{value}", language) or value
