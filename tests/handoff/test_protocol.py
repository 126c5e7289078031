"""The agent protocol's parsing and frame builders (pure, no I/O)."""

from __future__ import annotations

import json

import pytest

from handoff import protocol
from handoff.protocol import ProtocolError

LIMIT = 64 * 1024


def _raw(**fields) -> str:
    return json.dumps({"v": 1, **fields})


def _code(raw, limit: int = LIMIT) -> str:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse(raw, limit)
    return caught.value.code


def test_parses_a_valid_message_frame() -> None:
    frame = protocol.parse(_raw(type="message", conversation_id="web-1", text="你好", client_id="c1"), LIMIT)
    assert frame.type == "message"
    assert frame.text("text") == "你好"
    assert frame.text("client_id") == "c1"


def test_bytes_are_accepted_when_utf8() -> None:
    assert protocol.parse(_raw(type="ping").encode("utf-8"), LIMIT).type == "ping"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\xff\xfe{}", "invalid_encoding"),
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        (json.dumps({"type": "ping"}), "missing_field"),
        (json.dumps({"v": 2, "type": "ping"}), "unsupported_version"),
        (json.dumps({"v": True, "type": "ping"}), "unsupported_version"),
        (_raw(type="launch_rockets"), "unknown_type"),
        (_raw(type=5), "invalid_field"),
        (json.dumps({"v": 1}), "missing_field"),
        (_raw(type="sign_in", name="alice"), "missing_field"),
        (_raw(type="message", conversation_id="c", text="   "), "invalid_field"),
        (_raw(type="message", conversation_id="c", text="x" * 8001), "invalid_field"),
        (_raw(type="message", conversation_id="c", text=5), "invalid_field"),
        (_raw(type="presence", status="sleeping"), "invalid_field"),
        (_raw(type="accept", case_id="CMP-2026-1"), "invalid_field"),
        (_raw(type="resolve", case_id="CMP-20261123-0042", resolution_code="because"), "invalid_field"),
        (_raw(type="typing", conversation_id="c", on="yes"), "invalid_field"),
        (_raw(type="sync", cursors={"c": "latest"}), "invalid_field"),
        (_raw(type="sync", cursors=["c"]), "invalid_field"),
    ],
)
def test_bad_frames_get_the_documented_code(raw, code) -> None:
    assert _code(raw) == code


def test_too_large_is_checked_first_in_bytes() -> None:
    assert _code("é" * 40, limit=50) == "frame_too_large"  # 80 bytes, 40 characters
    assert _code(b"\xff" * 100, limit=50) == "frame_too_large"


def test_ref_type_names_the_known_type() -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse(_raw(type="accept"), LIMIT)
    assert caught.value.ref_type == "accept"
    assert protocol.from_error(caught.value) == {
        "v": 1,
        "type": "error",
        "code": "missing_field",
        "detail": "'accept' needs 'case_id'",
        "ref_type": "accept",
    }


def test_optional_fields_and_valid_values() -> None:
    frame = protocol.parse(_raw(type="transfer", case_id="CMP-20261123-0042"), LIMIT)
    assert frame.opt("to_agent_id") is None and frame.text("note") == ""
    frame = protocol.parse(
        _raw(type="resolve", case_id="CMP-20261123-0042", resolution_code="resolved_refund", note="ok"), LIMIT
    )
    assert frame.fields == {"case_id": "CMP-20261123-0042", "resolution_code": "resolved_refund", "note": "ok"}
    frame = protocol.parse(_raw(type="sync", cursors={"web-1": "1763890000000-0"}), LIMIT)
    assert frame.fields["cursors"] == {"web-1": "1763890000000-0"}
    assert protocol.parse(_raw(type="typing", conversation_id="c", on=False), LIMIT).fields["on"] is False


def test_builders() -> None:
    assert protocol.pong() == {"v": 1, "type": "pong"}
    assert protocol.offer_withdrawn("CMP-20261123-0001", "timeout")["reason"] == "timeout"
    with pytest.raises(ValueError):
        protocol.error("made_up", "x")
    with pytest.raises(ValueError):
        protocol.case_closed("CMP-20261123-0001", "exploded")
    frame = protocol.message("c", "1-0", "agent", "hi", "2026-01-01T00:00:00+00:00", client_id="k", kind=None)
    assert frame["client_id"] == "k" and "kind" not in frame
    assert json.loads(protocol.encode(protocol.typing("c", "customer", True)))["on"] is True
