"""Frames of the customer web chat protocol: every bad frame gets a clear error code."""

from __future__ import annotations

import json

import pytest

from bot.channels import webchat_frames as frames
from bot.channels.webchat_frames import (
    MAX_CLIENT_ID_CHARS,
    MAX_FRAME_BYTES,
    MAX_TEXT_CHARS,
    FrameError,
    MessageFrame,
    PingFrame,
    ResumeFrame,
    TypingFrame,
    parse_client_frame,
    parse_session_body,
)


def _raw(**fields) -> str:
    return json.dumps(fields, ensure_ascii=False)


def _code(raw) -> str:
    with pytest.raises(FrameError) as caught:
        parse_client_frame(raw)
    return caught.value.code


def test_valid_frames() -> None:
    assert parse_client_frame(_raw(type="message", text="我部雪櫃壞咗", client_id="c-1")) == MessageFrame(
        "我部雪櫃壞咗", "c-1"
    )
    assert parse_client_frame(_raw(type="typing", on=True)) == TypingFrame(True)
    assert parse_client_frame(_raw(type="resume", last_id="0-0")) == ResumeFrame("0-0")
    assert parse_client_frame(_raw(type="resume", last_id="1763890000000-3")) == ResumeFrame("1763890000000-3")
    assert parse_client_frame(_raw(type="ping")) == PingFrame()


def test_bytes_frames_are_accepted_as_utf8() -> None:
    assert parse_client_frame(_raw(type="ping").encode("utf-8")) == PingFrame()


def test_frame_too_large() -> None:
    raw = _raw(type="message", text="x" * MAX_FRAME_BYTES, client_id="c")
    assert _code(raw) == "frame_too_large"


def test_invalid_encoding() -> None:
    assert _code(b'{"type": "message", "text": "\xff", "client_id": "c"}') == "invalid_encoding"


@pytest.mark.parametrize("raw", ["{", "not json", "", "{'type': 'ping'}", "[]", '"ping"', "null"])
def test_invalid_json(raw: str) -> None:
    assert _code(raw) == "invalid_json"


@pytest.mark.parametrize("raw", [_raw(text="hi"), _raw(type=""), _raw(type=3)])
def test_missing_type(raw: str) -> None:
    assert _code(raw) == "missing_field"


def test_unknown_type() -> None:
    with pytest.raises(FrameError) as caught:
        parse_client_frame(_raw(type="hack"))
    assert caught.value.code == "unknown_type"
    assert "message" in caught.value.detail


@pytest.mark.parametrize(
    "fields",
    [{"type": "message", "client_id": "c"}, {"type": "message", "text": "hi"}, {"type": "typing"}, {"type": "resume"}],
)
def test_missing_field(fields) -> None:
    assert _code(_raw(**fields)) == "missing_field"


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "message", "text": 5, "client_id": "c"},
        {"type": "message", "text": "   ", "client_id": "c"},
        {"type": "message", "text": "hi", "client_id": ""},
        {"type": "message", "text": "hi", "client_id": 7},
        {"type": "message", "text": "hi", "client_id": "x" * (MAX_CLIENT_ID_CHARS + 1)},
        {"type": "message", "text": "hi", "client_id": "a\nb"},
        {"type": "typing", "on": "yes"},
        {"type": "typing", "on": 1},
        {"type": "resume", "last_id": "latest"},
        {"type": "resume", "last_id": 0},
        {"type": "resume", "last_id": "$"},
    ],
)
def test_invalid_field(fields) -> None:
    assert _code(_raw(**fields)) == "invalid_field"


def test_text_limits() -> None:
    longest = "字" * MAX_TEXT_CHARS
    assert parse_client_frame(_raw(type="message", text=longest, client_id="c")).text == longest
    with pytest.raises(FrameError) as caught:
        parse_client_frame(_raw(type="message", text=longest + "字", client_id="c"))
    assert caught.value.code == "text_too_long"
    assert str(MAX_TEXT_CHARS) in caught.value.detail


def test_error_frames_name_the_frame_type() -> None:
    with pytest.raises(FrameError) as caught:
        parse_client_frame(_raw(type="typing", on="yes"))
    assert caught.value.as_frame() == {
        "type": "error", "code": "invalid_field", "detail": caught.value.detail, "ref_type": "typing"
    }


def test_session_body() -> None:
    assert parse_session_body(b"") is None
    assert parse_session_body(b"{}") is None
    assert parse_session_body(b'{"token": "abc.def"}') == "abc.def"
    for raw, code in [(b'{"token": 5}', "invalid_field"), (b"[1]", "invalid_json"), (b"x" * 5000, "frame_too_large")]:
        with pytest.raises(FrameError) as caught:
            parse_session_body(raw)
        assert caught.value.code == code


def test_server_frames() -> None:
    message = frames.message("1-0", "bot", "Hello", 0.0, buttons=[{"title": "Yes", "payload": "/affirm"}])
    assert message == {
        "type": "message", "id": "1-0", "author": "bot", "text": "Hello", "at": "1970-01-01T00:00:00.000+00:00",
        "buttons": [{"title": "Yes", "payload": "/affirm"}],
    }
    echo = frames.message("2-0", "customer", "hi", 1.5, kind="message", client_id="c-1")
    assert echo["client_id"] == "c-1" and "kind" not in echo and "buttons" not in echo
    assert frames.message("3-0", "system", "An agent joined", 2.0, kind="agent_joined")["kind"] == "agent_joined"
    assert frames.typing("agent", True) == {"type": "typing", "party": "agent", "on": True}
    assert frames.ack("c-1") == {"type": "ack", "client_id": "c-1", "id": None}
    assert frames.ack("c-1", duplicate=True)["duplicate"] is True
    assert frames.state("agent") == {"type": "state", "owner": "agent"}
    with pytest.raises(ValueError):
        frames.state("nobody")
    assert frames.error("unknown_type", "no") == {"type": "error", "code": "unknown_type", "detail": "no"}
    assert frames.pong() == {"type": "pong"}
    assert json.loads(frames.encode({"type": "message", "text": "雪櫃"})) == {"type": "message", "text": "雪櫃"}
    assert "雪櫃" in frames.encode({"text": "雪櫃"})


def test_buttons_from_the_log() -> None:
    assert frames.decode_buttons('[{"title": "Yes", "payload": "/affirm"}, 3]') == [
        {"title": "Yes", "payload": "/affirm"}
    ]
    assert frames.decode_buttons("") is None
    assert frames.decode_buttons("not json") is None
    assert frames.decode_buttons('{"title": "x"}') is None


def test_stream_id_order() -> None:
    assert frames.stream_id_after("1763890000000-0", "0-0")
    assert frames.stream_id_after("1763890000000-10", "1763890000000-9")
    assert frames.stream_id_after("1763890000001-0", "1763890000000-99")
    assert not frames.stream_id_after("1763890000000-0", "1763890000000-0")
    assert not frames.stream_id_after("999-0", "1000-0")
