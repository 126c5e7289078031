"""Validation of inbound message bodies, shared by the project's input channels (pure logic)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional

MAX_BODY_BYTES = 64 * 1024
MAX_TEXT_CHARS = 8000
MAX_SENDER_CHARS = 128


@dataclass(frozen=True)
class InboundError(Exception):
    """A body that cannot be accepted, with an HTTP status and a plain explanation."""

    status: int
    code: str
    detail: str

    def as_json(self) -> Dict[str, str]:
        """The error body sent back to the caller."""
        return {"error": self.code, "detail": self.detail}


@dataclass(frozen=True)
class InboundMessage:
    """A validated customer message."""

    sender_id: str
    text: str
    metadata: Optional[Dict[str, Any]]


def parse_rest_body(raw: bytes) -> InboundMessage:
    """Decode and check a REST webhook body: {"sender": str, "message": str, "metadata"?: {}}."""
    if len(raw) > MAX_BODY_BYTES:
        raise InboundError(413, "body_too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InboundError(
            400, "invalid_encoding", f"The body is not valid UTF-8 (byte {error.start})."
        ) from None
    try:
        body = json.loads(decoded)
    except json.JSONDecodeError as error:
        raise InboundError(
            400, "malformed_json", f"The body is not valid JSON: {error.msg} at line {error.lineno}."
        ) from None
    if not isinstance(body, dict):
        raise InboundError(400, "invalid_shape", "The body must be a JSON object.")
    return InboundMessage(
        sender_id=_sender(body.get("sender")),
        text=_text(body.get("message")),
        metadata=_metadata(body.get("metadata")),
    )


def _sender(value: Any) -> str:
    """The conversation id: required, a short non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise InboundError(400, "missing_sender", '"sender" must be a non-empty string.')
    if len(value) > MAX_SENDER_CHARS:
        raise InboundError(400, "invalid_sender", f'"sender" is over {MAX_SENDER_CHARS} characters.')
    return value


def _text(value: Any) -> str:
    """The customer's text: a non-empty string of bounded length."""
    if not isinstance(value, str):
        raise InboundError(400, "missing_message", '"message" must be a string.')
    if not value.strip():
        raise InboundError(400, "empty_message", '"message" is empty.')
    if len(value) > MAX_TEXT_CHARS:
        raise InboundError(
            413,
            "message_too_long",
            f'"message" has {len(value)} characters; the limit is {MAX_TEXT_CHARS}. '
            "Please send it in shorter parts.",
        )
    return value


def _metadata(value: Any) -> Optional[Dict[str, Any]]:
    """Optional metadata: an object when present."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InboundError(400, "invalid_metadata", '"metadata" must be a JSON object.')
    return value
