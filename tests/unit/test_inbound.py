"""Validation of REST webhook bodies before anything reaches the assistant."""

from __future__ import annotations

import json

import pytest

from bot.channels.inbound import MAX_BODY_BYTES, MAX_TEXT_CHARS, InboundError, parse_rest_body


def _body(**fields) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


def _rejects(raw: bytes) -> InboundError:
    with pytest.raises(InboundError) as caught:
        parse_rest_body(raw)
    return caught.value


def test_valid_body() -> None:
    message = parse_rest_body(_body(sender="user-1", message="我的洗衣机坏了", metadata={"page": "/help"}))
    assert message.sender_id == "user-1"
    assert message.text == "我的洗衣机坏了"
    assert message.metadata == {"page": "/help"}


def test_metadata_is_optional() -> None:
    assert parse_rest_body(_body(sender="a", message="hi")).metadata is None


def test_invalid_utf8_is_a_400_with_a_clear_code() -> None:
    error = _rejects(b'{"sender":"a","message":"\xff"}')
    assert (error.status, error.code) == (400, "invalid_encoding")
    assert "UTF-8" in error.detail
    assert error.as_json() == {"error": "invalid_encoding", "detail": error.detail}


@pytest.mark.parametrize("raw", [b'{"sender": "a", "message": ', b"not json", b"", b"{'sender': 'a'}"])
def test_malformed_json(raw: bytes) -> None:
    error = _rejects(raw)
    assert (error.status, error.code) == (400, "malformed_json")


@pytest.mark.parametrize("raw", [b"[]", b'"hello"', b"42", b"null", b'[{"sender":"a","message":"hi"}]'])
def test_body_must_be_an_object(raw: bytes) -> None:
    error = _rejects(raw)
    assert (error.status, error.code) == (400, "invalid_shape")


@pytest.mark.parametrize("sender", [None, "", "   ", 42, ["a"]])
def test_sender_is_required(sender) -> None:
    fields = {"message": "hello"}
    if sender is not None:
        fields["sender"] = sender
    error = _rejects(_body(**fields))
    assert (error.status, error.code) == (400, "missing_sender")


def test_overlong_sender() -> None:
    error = _rejects(_body(sender="x" * 129, message="hi"))
    assert (error.status, error.code) == (400, "invalid_sender")


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_message(text: str) -> None:
    error = _rejects(_body(sender="a", message=text))
    assert (error.status, error.code) == (400, "empty_message")


@pytest.mark.parametrize("text", [None, 42, {"text": "hi"}])
def test_message_must_be_a_string(text) -> None:
    fields = {"sender": "a"}
    if text is not None:
        fields["message"] = text
    error = _rejects(_body(**fields))
    assert (error.status, error.code) == (400, "missing_message")


def test_twenty_kilobyte_message_is_too_long_with_a_helpful_detail() -> None:
    text = "a" * 20_000
    error = _rejects(_body(sender="a", message=text))
    assert (error.status, error.code) == (413, "message_too_long")
    assert "20000" in error.detail
    assert str(MAX_TEXT_CHARS) in error.detail
    assert "shorter" in error.detail


def test_message_at_the_limit_is_accepted() -> None:
    assert len(parse_rest_body(_body(sender="a", message="字" * MAX_TEXT_CHARS)).text) == MAX_TEXT_CHARS


def test_body_over_64_kb_is_rejected_before_decoding() -> None:
    raw = _body(sender="a", message="b" * (MAX_BODY_BYTES + 10))
    error = _rejects(raw)
    assert (error.status, error.code) == (413, "body_too_large")
    error = _rejects(b"\xff" * (MAX_BODY_BYTES + 1))
    assert error.code == "body_too_large"


@pytest.mark.parametrize("text", ["😡", "👍🙏", "🔥🔥🔥 ‼️"])
def test_emoji_only_message_is_accepted_unchanged(text: str) -> None:
    assert parse_rest_body(_body(sender="a", message=text)).text == text
    escaped = json.dumps({"sender": "a", "message": text}).encode("ascii")
    assert parse_rest_body(escaped).text == text


@pytest.mark.parametrize("metadata", [[], "x", 1, True])
def test_metadata_must_be_an_object(metadata) -> None:
    error = _rejects(_body(sender="a", message="hi", metadata=metadata))
    assert (error.status, error.code) == (400, "invalid_metadata")
