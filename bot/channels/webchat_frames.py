"""Frames of the customer WebSocket protocol ("webchat"): validation and builders (pure logic).

Every frame is one JSON object in a UTF-8 text frame of at most 16 KiB with a "type".
A frame that cannot be accepted raises FrameError, which the channel turns into an
`error` frame; the connection stays open.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

MAX_FRAME_BYTES = 16 * 1024
MAX_TEXT_CHARS = 4000
MAX_CLIENT_ID_CHARS = 64
MAX_SESSION_BODY_BYTES = 4 * 1024
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
CLIENT_TYPES = ("message", "typing", "resume", "ping")
OWNERS = ("bot", "queued", "offered", "agent", "handed_back", "closed")

Frame = Dict[str, Any]


@dataclass(frozen=True)
class FrameError(Exception):
    """A frame that cannot be accepted: a code from the protocol and a plain explanation."""

    code: str
    detail: str
    ref_type: Optional[str] = None

    def as_frame(self) -> Frame:
        """The `error` frame sent back to the widget."""
        return error(self.code, self.detail, self.ref_type)


@dataclass(frozen=True)
class MessageFrame:
    """The customer wrote something; `client_id` lets the widget match the echo and dedupe resends."""

    text: str
    client_id: str


@dataclass(frozen=True)
class TypingFrame:
    """The customer started or stopped typing."""

    on: bool


@dataclass(frozen=True)
class ResumeFrame:
    """Replay every log entry after `last_id` ("0-0" for all of them)."""

    last_id: str


@dataclass(frozen=True)
class PingFrame:
    """Keep-alive; answered with `pong`."""


ClientFrame = Union[MessageFrame, TypingFrame, ResumeFrame, PingFrame]


def parse_client_frame(raw: Union[str, bytes]) -> ClientFrame:
    """Decode and check one frame from the widget, or raise FrameError."""
    body = _json_object(raw, MAX_FRAME_BYTES)
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise FrameError("missing_field", 'Every frame needs a "type" string.')
    if kind == "message":
        return MessageFrame(text=_text(body), client_id=_client_id(body))
    if kind == "typing":
        return TypingFrame(on=_flag(body, "on", kind))
    if kind == "resume":
        return ResumeFrame(last_id=_stream_id(body))
    if kind == "ping":
        return PingFrame()
    raise FrameError("unknown_type", f"Unknown frame type {kind[:40]!r}; expected one of {', '.join(CLIENT_TYPES)}.")


def parse_session_body(raw: bytes) -> Optional[str]:
    """The old token in a POST /session body, or None to start a new conversation."""
    if not raw.strip():
        return None
    body = _json_object(raw, MAX_SESSION_BODY_BYTES)
    token = body.get("token")
    if token is None:
        return None
    if not isinstance(token, str) or not token:
        raise FrameError("invalid_field", '"token" must be a non-empty string.')
    return token


# --- server -> widget ---


def message(
    entry_id: str,
    author: str,
    text: str,
    at: float,
    buttons: Optional[List[Dict[str, str]]] = None,
    kind: Optional[str] = None,
    client_id: Optional[str] = None,
) -> Frame:
    """One log entry for the widget; `at` is its time as ISO 8601 UTC."""
    frame: Frame = {"type": "message", "id": entry_id, "author": author, "text": text, "at": iso_time(at)}
    if buttons:
        frame["buttons"] = buttons
    if kind and kind != "message":
        frame["kind"] = kind
    if client_id:
        frame["client_id"] = client_id
    return frame


def typing(party: str, on: bool) -> Frame:
    """Someone (the agent) started or stopped typing."""
    return {"type": "typing", "party": party, "on": on}


def ack(client_id: str, entry_id: Optional[str] = None, duplicate: bool = False) -> Frame:
    """The customer's message was accepted (or had been already, when `duplicate`)."""
    frame: Frame = {"type": "ack", "client_id": client_id, "id": entry_id}
    if duplicate:
        frame["duplicate"] = True
    return frame


def state(owner: str) -> Frame:
    """Who answers the conversation now."""
    if owner not in OWNERS:
        raise ValueError(f"unknown owner {owner!r}")
    return {"type": "state", "owner": owner}


def error(code: str, detail: str, ref_type: Optional[str] = None) -> Frame:
    """A frame or request that could not be accepted."""
    frame: Frame = {"type": "error", "code": code, "detail": detail}
    if ref_type:
        frame["ref_type"] = ref_type
    return frame


def pong() -> Frame:
    """The answer to `ping`."""
    return {"type": "pong"}


def encode(frame: Frame) -> str:
    """A frame as the text sent on the socket (UTF-8 JSON, non-ASCII kept as is)."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def iso_time(epoch_s: float) -> str:
    """Epoch seconds as an ISO 8601 UTC time with milliseconds."""
    moment = dt.datetime.fromtimestamp(epoch_s, tz=dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def stream_id_after(entry_id: str, other: str) -> bool:
    """Whether log entry id `entry_id` comes after `other` ("0-0" comes before every entry)."""
    return _stream_id_parts(entry_id) > _stream_id_parts(other)


def _stream_id_parts(entry_id: str) -> Tuple[int, int]:
    """A stream id "ms-seq" as numbers, for ordering."""
    millis, _, sequence = entry_id.partition("-")
    return int(millis or 0), int(sequence or 0)


def decode_buttons(raw: Optional[str]) -> Optional[List[Dict[str, str]]]:
    """Buttons stored in a log entry as JSON: a list of {title, payload}; anything else is dropped."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    found = [
        {"title": str(item.get("title", "")), "payload": str(item.get("payload", ""))}
        for item in value
        if isinstance(item, dict)
    ]
    return found or None


# --- helpers ---


def _json_object(raw: Union[str, bytes], limit: int) -> Dict[str, Any]:
    """A size-checked UTF-8 JSON object."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(data) > limit:
        raise FrameError("frame_too_large", f"The frame has {len(data)} bytes; the limit is {limit}.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise FrameError("invalid_encoding", f"The frame is not valid UTF-8 (byte {problem.start}).") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as problem:
        raise FrameError(
            "invalid_json", f"The frame is not valid JSON: {problem.msg} at column {problem.colno}."
        ) from None
    if not isinstance(body, dict):
        raise FrameError("invalid_json", "A frame must be a JSON object.")
    return body


def _text(body: Dict[str, Any]) -> str:
    """The customer's text: 1 to MAX_TEXT_CHARS characters, not only spaces."""
    value = body.get("text")
    if value is None:
        raise FrameError("missing_field", '"text" is required.', "message")
    if not isinstance(value, str):
        raise FrameError("invalid_field", '"text" must be a string.', "message")
    if not value.strip():
        raise FrameError("invalid_field", '"text" is empty.', "message")
    if len(value) > MAX_TEXT_CHARS:
        raise FrameError(
            "text_too_long",
            f'"text" has {len(value)} characters; the limit is {MAX_TEXT_CHARS}. Please send it in shorter parts.',
            "message",
        )
    return value


def _client_id(body: Dict[str, Any]) -> str:
    """The widget's own id of a message: 1 to MAX_CLIENT_ID_CHARS printable characters."""
    value = body.get("client_id")
    if value is None:
        raise FrameError("missing_field", '"client_id" is required.', "message")
    if not isinstance(value, str) or not value or len(value) > MAX_CLIENT_ID_CHARS or not value.isprintable():
        raise FrameError(
            "invalid_field", f'"client_id" must be 1 to {MAX_CLIENT_ID_CHARS} printable characters.', "message"
        )
    return value


def _flag(body: Dict[str, Any], name: str, kind: str) -> bool:
    """A required boolean field."""
    value = body.get(name)
    if value is None:
        raise FrameError("missing_field", f'"{name}" is required.', kind)
    if not isinstance(value, bool):
        raise FrameError("invalid_field", f'"{name}" must be true or false.', kind)
    return value


def _stream_id(body: Dict[str, Any]) -> str:
    """A log entry id like "1763890000000-0", or "0-0" for the beginning."""
    value = body.get("last_id")
    if value is None:
        raise FrameError("missing_field", '"last_id" is required ("0-0" for everything).', "resume")
    if not isinstance(value, str) or not STREAM_ID.match(value):
        raise FrameError(
            "invalid_field", '"last_id" must be a log entry id like "1763890000000-0", or "0-0".', "resume"
        )
    return value
