"""Signed session tokens for the web widget, so a customer only ever reads their own conversation (pure logic).

A token is ``base64url(payload JSON) + "." + base64url(HMAC-SHA256(payload part))``, the
payload being ``{"conversation_id": "web-<16 hex>", "issued_at": <epoch seconds>}``. The
conversation id is random and only the server can sign one, so holding a token is the
proof of being that conversation's customer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Optional, Tuple

CONVERSATION_PREFIX = "web-"
CONVERSATION_ID = re.compile(r"^web-[0-9a-f]{16}$")
# A widget keeps its token as long as Rasa keeps the tracker (record_exp in endpoints.yml).
DEFAULT_MAX_AGE_S = 30 * 24 * 3600
MAX_TOKEN_CHARS = 512
# Tolerated clock difference between instances for a token issued "in the future".
CLOCK_SKEW_S = 300


class InvalidToken(Exception):
    """A token that is malformed, forged, for another secret, or too old; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_conversation_id() -> str:
    """A random, unguessable conversation id for a web customer."""
    return CONVERSATION_PREFIX + secrets.token_hex(8)


def new_secret() -> str:
    """A random secret, for a process started without WEBCHAT_SECRET."""
    return secrets.token_urlsafe(32)


def issue(secret: str, conversation_id: Optional[str] = None, now: Optional[float] = None) -> Tuple[str, str]:
    """A signed token and its conversation id (a new conversation unless one is given)."""
    _require_secret(secret)
    conversation = conversation_id or new_conversation_id()
    payload = {"conversation_id": conversation, "issued_at": int(time.time() if now is None else now)}
    body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{_sign(body, secret)}", conversation


def verify(token: str, secret: str, max_age_s: float = DEFAULT_MAX_AGE_S, now: Optional[float] = None) -> str:
    """The conversation id of a valid token; raise InvalidToken(reason) otherwise."""
    _require_secret(secret)
    if not isinstance(token, str) or not token:
        raise InvalidToken("missing")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InvalidToken("malformed")
    body, signature = token.split(".")
    if not hmac.compare_digest(signature.encode("ascii", "replace"), _sign(body, secret).encode("ascii")):
        raise InvalidToken("bad_signature")
    payload = _payload(body)
    conversation_id = payload.get("conversation_id")
    issued_at = payload.get("issued_at")
    if not isinstance(conversation_id, str) or not CONVERSATION_ID.match(conversation_id):
        raise InvalidToken("malformed")
    if isinstance(issued_at, bool) or not isinstance(issued_at, (int, float)):
        raise InvalidToken("malformed")
    moment = time.time() if now is None else now
    if issued_at > moment + CLOCK_SKEW_S:
        raise InvalidToken("not_yet_valid")
    if moment - issued_at > max_age_s:
        raise InvalidToken("expired")
    return conversation_id


def _require_secret(secret: str) -> None:
    """Refuse to sign or check with an empty secret."""
    if not secret:
        raise ValueError("the webchat secret must not be empty")


def _sign(body: str, secret: str) -> str:
    """The base64url HMAC-SHA256 of the payload part."""
    digest = hmac.new(secret.encode("utf-8"), body.encode("ascii", "replace"), hashlib.sha256).digest()
    return _b64encode(digest)


def _payload(body: str) -> dict:
    """The decoded payload object of a token whose signature was already checked."""
    try:
        decoded = json.loads(_b64decode(body))
    except (ValueError, binascii.Error):
        raise InvalidToken("malformed") from None
    if not isinstance(decoded, dict):
        raise InvalidToken("malformed")
    return decoded


def _b64encode(raw: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Decode URL-safe base64 with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
