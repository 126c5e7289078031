"""Fixtures that run the real trained assistant (Rasa server + action server + Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import redis

from tests.support.redis_server import session_redis
from tests.support.stack import ROOT, Stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """One running stack for all conversation tests, with its own Redis key prefix."""
    if not list((ROOT / "models").glob("*.tar.gz")):
        pytest.fail("No trained model in models/: run ./scripts/test.sh, which trains it.")
    for url, prefix in session_redis():
        running = Stack(redis_url=url, prefix=prefix).start(ROOT / "tests" / "artifacts" / "stack-logs")
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture
def cases(stack: Stack) -> redis.Redis[str]:
    """A Redis client to read what the assistant stored."""
    return redis.Redis.from_url(stack.redis_url, decode_responses=True)


@pytest.fixture
def case_key(stack: Stack):  # type: ignore[no-untyped-def]
    """Key of a case hash under this session's prefix."""
    return lambda case_id: f"{stack.prefix}:case:{case_id}"


def pytest_collection_modifyitems(items: list) -> None:  # type: ignore[type-arg]
    """Everything here needs the running stack."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.stack)
