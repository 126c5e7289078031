"""Drive a complaint through the form by answering whatever the assistant asks."""

from __future__ import annotations

from typing import Dict, List, Optional, Set

from bot.language import detect_language
from tests.support.stack import Stack, texts


def requested_slot(stack: Stack, sender: str) -> Optional[str]:
    """The slot the assistant is asking for right now."""
    slot = stack.tracker(sender)["slots"].get("requested_slot")
    return str(slot) if slot else None


def answer_until_summary(
    stack: Stack, sender: str, answers: Dict[str, str], already_given: Set[str], max_turns: int = 8
) -> List[Dict]:
    """Answer each question from `answers` until the read-back; fail if a known fact is re-asked."""
    transcript: List[Dict] = []
    for _ in range(max_turns):
        asked = requested_slot(stack, sender)
        if asked == "summary_confirmed":
            return transcript
        assert asked is not None, f"the form stopped before the summary: {texts(transcript)}"
        assert asked not in already_given, f"asked again for {asked}, which the customer already gave"
        assert asked in answers, f"unexpected question for {asked}: {texts(transcript)}"
        transcript += stack.say(sender, answers[asked])
        already_given.add(asked)
    raise AssertionError(f"no summary after {max_turns} answers: {texts(transcript)}")


def assert_language(replies: List[Dict], language: str) -> None:
    """Every reply is written in the customer's language and script, none mixed."""
    for reply in replies:
        text = str(reply.get("text") or "")
        detected = detect_language(text)
        allowed = {language, "zh"} if language.startswith("zh") else {language}
        if detected is not None:
            assert detected in allowed, f"reply in {detected}, expected {language}: {text!r}"
