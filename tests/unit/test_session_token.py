"""Signed web chat session tokens: only the server can make one, and only for one conversation."""

from __future__ import annotations

import base64
import json

import pytest

from bot.channels.session_token import CONVERSATION_ID, InvalidToken, issue, verify

SECRET = "s3cret-for-tests"
NOW = 1_763_890_000.0


def _reason(token: str, secret: str = SECRET, max_age_s: float = 3600, now: float = NOW) -> str:
    with pytest.raises(InvalidToken) as caught:
        verify(token, secret, max_age_s, now=now)
    return caught.value.reason


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def test_a_valid_token_names_its_conversation() -> None:
    token, conversation_id = issue(SECRET, now=NOW)
    assert CONVERSATION_ID.match(conversation_id)
    assert verify(token, SECRET, 3600, now=NOW + 10) == conversation_id


def test_every_session_is_a_new_random_conversation() -> None:
    ids = {issue(SECRET)[1] for _ in range(50)}
    assert len(ids) == 50


def test_reissuing_keeps_the_conversation() -> None:
    _, conversation_id = issue(SECRET, now=NOW)
    token, again = issue(SECRET, conversation_id, now=NOW + 100)
    assert again == conversation_id
    assert verify(token, SECRET, 3600, now=NOW + 100) == conversation_id


def test_a_tampered_payload_is_refused() -> None:
    token, _ = issue(SECRET, now=NOW)
    _, signature = token.split(".")
    forged = _b64(json.dumps({"conversation_id": "web-0123456789abcdef", "issued_at": int(NOW)}).encode())
    assert _reason(f"{forged}.{signature}") == "bad_signature"


def test_a_tampered_signature_is_refused() -> None:
    token, _ = issue(SECRET, now=NOW)
    body, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert _reason(f"{body}.{flipped}") == "bad_signature"
    assert _reason(f"{body}.") == "bad_signature"


def test_a_token_of_another_secret_is_refused() -> None:
    token, _ = issue("another-secret", now=NOW)
    assert _reason(token) == "bad_signature"


def test_an_expired_token_is_refused() -> None:
    token, _ = issue(SECRET, now=NOW)
    assert verify(token, SECRET, 3600, now=NOW + 3600) is not None
    assert _reason(token, now=NOW + 3601) == "expired"


def test_a_token_from_the_future_is_refused() -> None:
    token, _ = issue(SECRET, now=NOW + 3600)
    assert _reason(token) == "not_yet_valid"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 600, "é.é"])
def test_malformed_tokens_are_refused(token: str) -> None:
    assert _reason(token) in {"missing", "malformed", "bad_signature"}


def test_a_signed_payload_of_the_wrong_shape_is_refused() -> None:
    """Even a correctly signed token must carry a web conversation id and a time."""
    import hashlib
    import hmac

    shapes = ({"conversation_id": "someone-else", "issued_at": NOW}, {"conversation_id": "web-0123456789abcdef"}, [1])
    for payload in shapes:
        body = _b64(json.dumps(payload).encode())
        signature = _b64(hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest())
        assert _reason(f"{body}.{signature}") == "malformed"


def test_an_empty_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        issue("")
