"""Customer-facing notices from the bot's responses file, and the agents' canned replies.

The bridge never writes customer text itself: it renders `utter_*` responses from
bot/domain/responses/handoff.yml (owned by the content editors) in the conversation's
language, falling back to English. The file is re-read when it changes, so an edit
shows without a restart. While a response is missing, a plain English default is used
so that a customer is never left without the notice.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESPONSES = ROOT / "bot" / "domain" / "responses" / "handoff.yml"
DEFAULT_CANNED = Path(__file__).resolve().parent / "canned_replies.yml"
LANGUAGES = ("en", "zh-Hans", "zh-Hant")
FALLBACK_LANGUAGE = "en"

# Used only while the responses file lacks a response.
DEFAULTS: Dict[str, str] = {
    "utter_agent_joined": "{agent_name} has joined the conversation.",
    "utter_agent_left": "The agent has left the conversation. You keep your place in the queue.",
    "utter_case_resolved": "Your case {case_id} has been resolved. Thank you for your patience.",
    "utter_handed_back": "You are back with the assistant. I'm here if you need anything else.",
    "utter_ask_csat": "How satisfied are you with the help you received? (1-5)",
}


@dataclass(frozen=True)
class Notice:
    """A rendered response: its text and any buttons."""

    text: str
    buttons: List[Dict[str, str]] = field(default_factory=list)


class _Placeholders(dict):
    """Leaves unknown {placeholders} as they are instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: Dict[str, Any]) -> str:
    """Fill {name} placeholders the way Rasa does ({{ and }} stand for literal braces)."""
    try:
        return template.format_map(_Placeholders({name: "" if v is None else v for name, v in values.items()}))
    except (ValueError, IndexError, AttributeError, KeyError):
        return template


def _language_of(variant: Dict[str, Any]) -> Optional[str]:
    """The language slot value a response variant is conditioned on, if any."""
    for condition in variant.get("condition") or []:
        if isinstance(condition, dict) and condition.get("name") == "language":
            value = condition.get("value")
            return str(value) if value is not None else None
    return None


def choose_variant(variants: List[Dict[str, Any]], language: str) -> Optional[Dict[str, Any]]:
    """The variant for the language, else English, else one without a condition."""
    by_language: Dict[Optional[str], Dict[str, Any]] = {}
    for variant in variants:
        if isinstance(variant, dict) and isinstance(variant.get("text"), str):
            by_language.setdefault(_language_of(variant), variant)
    for wanted in (language, FALLBACK_LANGUAGE, None):
        if wanted in by_language:
            return by_language[wanted]
    return None


def render_variant(variant: Dict[str, Any], values: Dict[str, Any]) -> Notice:
    """Text and buttons of one variant with the placeholders filled."""
    buttons = [
        {"title": fill(str(button.get("title", "")), values), "payload": fill(str(button.get("payload", "")), values)}
        for button in variant.get("buttons") or []
        if isinstance(button, dict)
    ]
    return Notice(text=fill(str(variant["text"]), values), buttons=buttons)


class Notices:
    """The responses file, re-read when its modification time changes."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path or os.environ.get("HANDOFF_RESPONSES_PATH") or DEFAULT_RESPONSES)
        self._cache: Tuple[float, Dict[str, List[Dict[str, Any]]]] = (-1.0, {})

    def responses(self) -> Dict[str, List[Dict[str, Any]]]:
        """The responses of the file ({} when it is missing or broken)."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return {}
        if mtime != self._cache[0]:
            try:
                data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
                found = data.get("responses") if isinstance(data, dict) else None
                loaded = found if isinstance(found, dict) else {}
            except (OSError, yaml.YAMLError) as problem:
                log.warning("cannot read responses file %s: %s", self.path, problem)
                loaded = {}
            self._cache = (mtime, loaded)
        return self._cache[1]

    def render(self, name: str, language: str, **values: Any) -> Notice:
        """One response in a language (English when that language has none)."""
        variants = self.responses().get(name)
        variant = choose_variant(variants, language) if isinstance(variants, list) else None
        if variant is not None:
            return render_variant(variant, values)
        log.warning("response %s missing in %s; using the built-in English text", name, self.path)
        return Notice(text=fill(DEFAULTS.get(name, name), values))


def load_canned_replies(path: Optional[Path] = None) -> Dict[str, Dict[str, str]]:
    """Canned replies as {code: {en, zh-Hans, zh-Hant}}; {} when the file is missing or broken."""
    source = Path(path or DEFAULT_CANNED)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as problem:
        log.warning("cannot read canned replies %s: %s", source, problem)
        return {}
    replies = data.get("canned_replies", data) if isinstance(data, dict) else {}
    cleaned: Dict[str, Dict[str, str]] = {}
    for code, texts in (replies or {}).items():
        if isinstance(texts, dict):
            cleaned[str(code)] = {lang: str(texts[lang]) for lang in LANGUAGES if lang in texts}
    return cleaned
