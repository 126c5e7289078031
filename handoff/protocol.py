"""The agent protocol (see PROTOCOL.md): parse and validate incoming frames, build outgoing ones.

Pure functions, no I/O: the bridge hands in the raw frame a socket received and gets a
`Frame` with validated fields, or a `ProtocolError` carrying the error code to answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

VERSION = 1
MAX_TEXT_CHARS = 8000
MAX_NOTE_CHARS = 2000
MAX_ID_CHARS = 200
MAX_CURSORS = 200

PRESENCE_STATUSES = frozenset({"available", "busy", "away"})
RESOLUTION_CODES = frozenset(
    {
        "resolved_refund",
        "resolved_replacement",
        "resolved_repair",
        "resolved_explanation",
        "resolved_compensation",
        "no_action_needed",
        "duplicate",
        "customer_unreachable",
    }
)
ERROR_CODES = frozenset(
    {
        "invalid_json",
        "invalid_encoding",
        "frame_too_large",
        "unknown_type",
        "missing_field",
        "invalid_field",
        "not_signed_in",
        "session_expired",
        "bad_credentials",
        "forbidden",
        "not_found",
        "already_taken",
        "not_yours",
        "over_capacity",
        "unsupported_version",
        "internal",
    }
)
WITHDRAW_REASONS = frozenset({"timeout", "taken", "cancelled", "declined"})
CLOSE_REASONS = frozenset({"resolved", "handed_back", "transferred", "cancelled"})

CASE_ID_PATTERN = re.compile(r"^CMP-\d{8}-\d{4,6}$")
STREAM_ID_PATTERN = re.compile(r"^\d{1,20}-\d{1,20}$")
# Frames a console may send before it has a session.
OPEN_TYPES = frozenset({"sign_in", "resume_session", "ping"})


class ProtocolError(Exception):
    """A frame that cannot be accepted; `code` is one of ERROR_CODES."""

    def __init__(self, code: str, detail: str, ref_type: Optional[str] = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.ref_type = ref_type


@dataclass(frozen=True)
class Frame:
    """A validated incoming frame: its type and its fields (only the documented ones)."""

    type: str
    fields: Dict[str, Any] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """A string field ("" when an optional one is absent)."""
        value = self.fields.get(name)
        return value if isinstance(value, str) else ""

    def opt(self, name: str) -> Optional[str]:
        """An optional string field, None when absent."""
        value = self.fields.get(name)
        return value if isinstance(value, str) else None


# --- field validators: each returns the cleaned value or raises ValueError(detail) ---

Validator = Callable[[Any], Any]


def _string(max_chars: int, allow_empty: bool = False) -> Validator:
    """A string of at most max_chars characters; non-blank unless allow_empty."""

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if not allow_empty and not value.strip():
            raise ValueError("must not be empty")
        if len(value) > max_chars:
            raise ValueError(f"must have at most {max_chars} characters")
        return value

    return check


def _one_of(allowed: frozenset) -> Validator:
    """A string from a fixed set."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise ValueError("must be one of " + ", ".join(sorted(allowed)))
        return value

    return check


def _case_id(value: Any) -> str:
    """A case number CMP-YYYYMMDD-NNNN."""
    if not isinstance(value, str) or not CASE_ID_PATTERN.match(value):
        raise ValueError("must look like CMP-YYYYMMDD-NNNN")
    return value


def _boolean(value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _cursors(value: Any) -> Dict[str, str]:
    """{conversation_id: last_id} with stream ids like 1763890000000-0."""
    if not isinstance(value, dict):
        raise ValueError("must be an object of conversation_id to message id")
    if len(value) > MAX_CURSORS:
        raise ValueError(f"must name at most {MAX_CURSORS} conversations")
    cleaned: Dict[str, str] = {}
    for conversation_id, last_id in value.items():
        if not conversation_id or len(conversation_id) > MAX_ID_CHARS:
            raise ValueError("has an invalid conversation id")
        if not isinstance(last_id, str) or not STREAM_ID_PATTERN.match(last_id):
            raise ValueError(f"has an invalid message id for {conversation_id!r}")
        cleaned[conversation_id] = last_id
    return cleaned


_ID = _string(MAX_ID_CHARS)
_NOTE = _string(MAX_NOTE_CHARS, allow_empty=True)

# type -> {field: (validator, required)}
SCHEMA: Dict[str, Dict[str, Tuple[Validator, bool]]] = {
    "sign_in": {"name": (_string(64), True), "password": (_string(1024), True)},
    "resume_session": {"token": (_string(256), True)},
    "sign_out": {},
    "presence": {"status": (_one_of(PRESENCE_STATUSES), True)},
    "accept": {"case_id": (_case_id, True)},
    "decline": {"case_id": (_case_id, True)},
    "pick": {"case_id": (_case_id, True)},
    "message": {
        "conversation_id": (_ID, True),
        "text": (_string(MAX_TEXT_CHARS), True),
        "client_id": (_string(MAX_ID_CHARS, allow_empty=True), False),
    },
    "typing": {"conversation_id": (_ID, True), "on": (_boolean, True)},
    "transfer": {"case_id": (_case_id, True), "to_agent_id": (_ID, False), "note": (_NOTE, False)},
    "resolve": {
        "case_id": (_case_id, True),
        "resolution_code": (_one_of(RESOLUTION_CODES), True),
        "note": (_NOTE, False),
    },
    "hand_back": {"case_id": (_case_id, True), "note": (_NOTE, False)},
    "sync": {"cursors": (_cursors, True)},
    "callback_done": {"case_id": (_case_id, True), "note": (_NOTE, False)},
    "ping": {},
}


def parse(raw: Union[str, bytes], max_bytes: int) -> Frame:
    """Validate one received frame; raises ProtocolError naming the first problem."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ProtocolError("frame_too_large", f"a frame may have at most {max_bytes} bytes, this one has {size}")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ProtocolError("invalid_encoding", f"a frame must be UTF-8 ({error.reason})") from None
    else:
        text = raw
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ProtocolError("invalid_json", f"a frame must be JSON ({error})") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_json", "a frame must be a JSON object")
    return validate(data)


def validate(data: Mapping[str, Any]) -> Frame:
    """Check a decoded frame against SCHEMA."""
    kind = data.get("type")
    ref_type = kind if isinstance(kind, str) and kind in SCHEMA else None
    if "type" not in data:
        raise ProtocolError("missing_field", "a frame needs a 'type'")
    if "v" not in data:
        raise ProtocolError("missing_field", "a frame needs 'v': 1", ref_type)
    version = data["v"]
    if isinstance(version, bool) or version != VERSION:
        raise ProtocolError("unsupported_version", f"this bridge speaks version {VERSION}", ref_type)
    if not isinstance(kind, str):
        raise ProtocolError("invalid_field", "'type' must be a string")
    if ref_type is None:
        raise ProtocolError("unknown_type", f"unknown frame type {kind[:64]!r}")
    fields: Dict[str, Any] = {}
    for name, (check, required) in SCHEMA[kind].items():
        if name not in data or data[name] is None:
            if required:
                raise ProtocolError("missing_field", f"'{kind}' needs '{name}'", kind)
            continue
        try:
            fields[name] = check(data[name])
        except ValueError as error:
            raise ProtocolError("invalid_field", f"'{name}' {error}", kind) from None
    return Frame(type=kind, fields=fields)


# --- outgoing frames ---


def build(kind: str, **fields: Any) -> Dict[str, Any]:
    """An outgoing frame with the version and type set."""
    return {"v": VERSION, "type": kind, **fields}


def encode(frame: Mapping[str, Any]) -> str:
    """The text form of an outgoing frame."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def error(code: str, detail: str, ref_type: Optional[str] = None) -> Dict[str, Any]:
    """An `error` frame."""
    if code not in ERROR_CODES:
        raise ValueError(f"unknown error code {code!r}")
    frame = build("error", code=code, detail=detail)
    if ref_type:
        frame["ref_type"] = ref_type
    return frame


def from_error(problem: ProtocolError) -> Dict[str, Any]:
    """The `error` frame answering a ProtocolError."""
    return error(problem.code, problem.detail, problem.ref_type)


def pong() -> Dict[str, Any]:
    """The answer to `ping`."""
    return build("pong")


def welcome(
    token: str,
    expires_at: str,
    agent: Mapping[str, Any],
    chats: List[Dict[str, Any]],
    canned_replies: Mapping[str, Any],
) -> Dict[str, Any]:
    """The answer to a successful `sign_in` or `resume_session`."""
    return build(
        "welcome",
        token=token,
        expires_at=expires_at,
        agent=dict(agent),
        chats=chats,
        canned_replies=dict(canned_replies),
    )


def queue_view(waiting: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The waiting cases, in the order they will be served."""
    return build("queue", waiting=waiting)


def offer(case: Mapping[str, Any], expires_at: str) -> Dict[str, Any]:
    """A case offered to one agent until expires_at."""
    return build("offer", case=dict(case), expires_at=expires_at)


def offer_withdrawn(case_id: str, reason: str) -> Dict[str, Any]:
    """An offer that no longer stands."""
    if reason not in WITHDRAW_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    return build("offer_withdrawn", case_id=case_id, reason=reason)


def assigned(case: Mapping[str, Any]) -> Dict[str, Any]:
    """A case now held by the agent."""
    return build("assigned", case=dict(case))


def message(
    conversation_id: str,
    entry_id: str,
    author: str,
    text: str,
    at: str,
    client_id: Optional[str] = None,
    **extra: Any,
) -> Dict[str, Any]:
    """One entry of a conversation log."""
    frame = build("message", conversation_id=conversation_id, id=entry_id, author=author, text=text, at=at)
    if client_id:
        frame["client_id"] = client_id
    frame.update({name: value for name, value in extra.items() if value not in (None, "")})
    return frame


def typing(conversation_id: str, party: str, on: bool) -> Dict[str, Any]:
    """A typing indicator change."""
    return build("typing", conversation_id=conversation_id, party=party, on=on)


def case_closed(case_id: str, how: str) -> Dict[str, Any]:
    """A case that left the agent."""
    if how not in CLOSE_REASONS:
        raise ValueError(f"unknown way of closing {how!r}")
    return build("case_closed", case_id=case_id, how=how)


def callbacks(due: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Promised callbacks that are due, overdue ones flagged."""
    return build("callbacks", due=due)


def agents(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Every agent with presence and load (supervisors only)."""
    return build("agents", agents=rows)
