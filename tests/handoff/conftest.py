"""Fixtures for the handoff state tests: a real Redis, and a key prefix per test."""

from __future__ import annotations

import uuid
from typing import AsyncIterator, Iterator, Tuple

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from handoff.keys import Keys
from tests.support.redis_server import session_redis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Tuple[str, str]]:
    """(url, prefix) of a real Redis for this session; its keys are deleted at the end."""
    yield from session_redis()


@pytest.fixture
def redis_url(redis_server: Tuple[str, str]) -> str:
    """The URL of the test Redis."""
    return redis_server[0]


@pytest.fixture
def keys(redis_server: Tuple[str, str]) -> Keys:
    """Keys under a prefix of this test alone (inside the session prefix, so cleanup finds them).

    The queue and the agent index are single keys per prefix; a prefix per test keeps
    one test's cases out of another's queue.
    """
    return Keys(f"{redis_server[1]}:{uuid.uuid4().hex[:8]}")


@pytest_asyncio.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """An async client bound to this test's event loop."""
    connection = aioredis.from_url(redis_url, decode_responses=True)
    try:
        yield connection
    finally:
        await connection.close()
        await connection.connection_pool.disconnect()
