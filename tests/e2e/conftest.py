"""Fixtures for the browser tests of the agent console: a real Redis, a real bridge, a real Chromium.

The bridge runs as `python -m handoff.bridge` in a subprocess on a free port; Chromium is
the distribution's /usr/bin/chromium driven by Playwright (scripts/install_browser.sh
installs both; nothing is downloaded by the tests). Without them the tests are skipped,
unless CI is set: then a missing browser is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

import pytest
import redis.asyncio as aioredis

from handoff import agents as agent_store
from handoff import conversation_log, ownership
from handoff import queue as handoff_queue
from handoff.keys import Keys
from handoff.queue import QueueEntry
from tests.support.redis_server import session_redis

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AGENT_NAME = "mei.lin"
AGENT_PASSWORD = "e2e-correct-horse-42"

T = TypeVar("T")


def run(make: Callable[[aioredis.Redis], Awaitable[T]], url: str) -> T:
    """Run one coroutine against a fresh async Redis client (the handoff modules are async).

    It runs in a worker thread: sync Playwright keeps its own event loop running in the
    test's thread, where asyncio.run is refused.
    """

    async def main() -> T:
        client = aioredis.from_url(url, decode_responses=True)
        try:
            return await make(client)
        finally:
            await client.close()
            await client.connection_pool.disconnect()

    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, main()).result()


def browser_missing() -> Optional[str]:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (run: bash scripts/install_browser.sh)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is missing (run: bash scripts/install_browser.sh)"
    return None


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the pieces ---


@pytest.fixture(scope="session")
def chromium_ready() -> None:
    """Skip (or, under CI, fail) when Chromium or Playwright is not installed."""
    problem = browser_missing()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {problem}")
    pytest.skip(f"browser tests skipped: {problem}")


@pytest.fixture(scope="session")
def redis_server(chromium_ready: None) -> Iterator[Tuple[str, str]]:
    """(url, prefix) of a real Redis; every key under the prefix is deleted at the end."""
    yield from session_redis()


@pytest.fixture(scope="session")
def keys(redis_server: Tuple[str, str]) -> Keys:
    """The key prefix the bridge and the tests share (inside the session prefix, so cleanup finds it)."""
    return Keys(f"{redis_server[1]}:e2e")


@pytest.fixture(scope="session")
def agent_account(redis_server: Tuple[str, str], keys: Keys) -> Dict[str, str]:
    """An agent who speaks all three languages and takes any case."""

    async def create(client: aioredis.Redis) -> agent_store.Agent:
        return await agent_store.create_agent(
            client, keys, AGENT_NAME, AGENT_PASSWORD, "agent",
            skills=["any", "refund"], languages=["en", "zh-Hans", "zh-Hant"], max_chats=3,
        )

    agent = run(create, redis_server[0])
    return {"name": AGENT_NAME, "password": AGENT_PASSWORD, "agent_id": agent.agent_id}


@pytest.fixture(scope="session")
def supervisor_account(redis_server: Tuple[str, str], keys: Keys) -> Dict[str, str]:
    """A supervisor, who also sees every agent."""
    name, password = "grace.wong", "e2e-supervisor-pass-7"

    async def create(client: aioredis.Redis) -> agent_store.Agent:
        return await agent_store.create_agent(
            client, keys, name, password, "supervisor", skills=["any"], languages=["en", "zh-Hans", "zh-Hant"],
            may_approve_compensation=True, max_chats=2,
        )

    agent = run(create, redis_server[0])
    return {"name": name, "password": password, "agent_id": agent.agent_id}


class BridgeProcess:
    """`python -m handoff.bridge` in a subprocess on a fixed port; can be stopped and started again."""

    def __init__(self, env: Dict[str, str], port: int, log_path: Path) -> None:
        self.env = env
        self.port = port
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self.process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait until /health answers 200."""
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "handoff.bridge"], cwd=ROOT, env=self.env,
                stdout=log_file, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"the bridge exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the bridge did not answer /health within {timeout:.0f} s; see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop in 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def bridge_process(
    redis_server: Tuple[str, str], keys: Keys, agent_account: Dict[str, str]
) -> Iterator[BridgeProcess]:
    """The bridge on a free port, with the test Redis and prefix; logs in tests/artifacts/e2e-bridge.log."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_server[0],
        REDIS_KEY_PREFIX=keys.prefix,
        HANDOFF_HOST="127.0.0.1",
        HANDOFF_PORT=str(port),
        HANDOFF_OFFER_TIMEOUT_S="120",  # the test answers offers itself; none should lapse meanwhile
        HANDOFF_RECONNECT_GRACE_S="120",  # a restarted bridge must not requeue the chats
        PYTHONPATH=str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "e2e-bridge.log"
    log_path.write_bytes(b"")
    process = BridgeProcess(env, port, log_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def bridge(bridge_process: BridgeProcess) -> str:
    """The base URL of a running bridge (started again if a test stopped it)."""
    if bridge_process.process is None or bridge_process.process.poll() is not None:
        bridge_process.start()
    return bridge_process.url


# Module scope: Playwright's sync API runs an event loop in this thread while it is
# open, which would break every asyncio test collected after the browser tests.
@pytest.fixture(scope="module")
def browser(chromium_ready: None) -> Iterator[Any]:
    """The system Chromium, headless, through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def console_tab(
    browser: Any, url: str, height: int, timeout_ms: int, ignore_refused_sockets: bool = False
) -> Iterator[Tuple[Any, List[str]]]:
    """The console in a fresh browser context (own sessionStorage) at 1280 px, with its page errors."""
    context = browser.new_context(viewport={"width": 1280, "height": height}, locale="en-GB")
    context.set_default_timeout(timeout_ms)
    tab = context.new_page()
    errors: List[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))

    def on_console(message: Any) -> None:
        # A refused WebSocket while the bridge is down is expected (the console reconnects).
        refused = ignore_refused_sockets and message.text.startswith("WebSocket connection to")
        if message.type == "error" and not refused:
            errors.append(message.text)

    tab.on("console", on_console)
    tab.goto(url + "/")
    try:
        yield tab, errors
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, bridge: str) -> Iterator[Any]:
    """A fresh console page; page errors fail the test."""
    with console_tab(browser, bridge, height=860, timeout_ms=10_000, ignore_refused_sockets=True) as (tab, errors):
        yield tab
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture
def shots() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot as tests/artifacts/screenshots/console-NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(tab: Any, name: str) -> Path:
        path = SCREENSHOTS / f"console-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return save


# --- putting customers in the queue the way the action server does ---


class Customers:
    """Writes cases, logs and queue entries as actions/handoff.py does, and reads them back."""

    def __init__(self, url: str, keys: Keys) -> None:
        self.url = url
        self.keys = keys

    def new_ids(self) -> Tuple[str, str]:
        """A fresh (case_id, conversation_id)."""
        day = datetime.now(timezone.utc).strftime("%Y%m%d")
        return f"CMP-{day}-{random.randint(1000, 9999)}", "web-" + uuid.uuid4().hex[:16]

    def queue_case(
        self,
        language: str,
        category: str,
        fields: Dict[str, str],
        summary: str,
        history: List[Tuple[str, str]],
        priority: int = 60,
        emergency: bool = False,
        frustration: Optional[List[float]] = None,
        past_cases: Optional[List[Dict[str, str]]] = None,
        sla_due: Optional[str] = None,
    ) -> Tuple[str, str]:
        """A conversation handed to a person: case hash with "enriched", log, owner bot->queued, enqueue."""
        case_id, conversation_id = self.new_ids()
        now = datetime.now(timezone.utc)
        reasons = ["customer_request", "repeated_misunderstanding"]
        enriched = {
            "case_id": case_id,
            "conversation_id": conversation_id,
            "channel": "webchat",
            "language": language,
            "category": category,
            "fields": fields,
            "customer": {"contact": fields.get("contact", ""), "value_tier": "standard",
                         "past_cases": past_cases or []},
            "reasons": reasons,
            "frustration": frustration or [0.1, 0.4, 0.8],
            "summary": summary,
            "priority": priority,
            "emergency": emergency,
            "needs_authority": False,
            "sla_due": sla_due or (now + timedelta(hours=2)).isoformat(timespec="seconds"),
        }
        record = {
            "case_id": case_id,
            "sender_id": conversation_id,
            "channel": "webchat",
            "language": language,
            "category": category,
            **fields,
            "status": "needs_human",
            "urgent": "1" if emergency else "0",
            "escalation_reasons": json.dumps(reasons),
            "frustration": str(max(enriched["frustration"])),
            "created_at": now.isoformat(timespec="seconds"),
            "updated_at": now.isoformat(timespec="seconds"),
            "enriched": json.dumps(enriched, ensure_ascii=False),
        }

        async def write(client: aioredis.Redis) -> None:
            await client.hset(self.keys.case(case_id), mapping=record)
            for author, text in history:
                await conversation_log.append(client, self.keys, conversation_id, author, text)
            await ownership.transition(
                client, self.keys, conversation_id, ownership.QUEUED,
                expected_from={ownership.BOT}, case_id=case_id, reason=",".join(reasons),
            )
            await handoff_queue.enqueue(client, self.keys, QueueEntry(
                case_id=case_id, conversation_id=conversation_id, language=language, skills_needed=category,
                emergency=emergency, priority=priority, enqueued_at=now.timestamp() - 95,
            ))

        run(write, self.url)
        return case_id, conversation_id

    def say(self, conversation_id: str, text: str, author: str = "customer") -> str:
        """Append a message to the conversation log (as the webchat channel does)."""
        return run(lambda client: conversation_log.append(client, self.keys, conversation_id, author, text), self.url)

    def typing(self, conversation_id: str, on: bool) -> None:
        """The customer starts or stops typing."""
        run(lambda client: conversation_log.set_typing(client, self.keys, conversation_id, "customer", on), self.url)

    def agent_typing(self, conversation_id: str) -> bool:
        """Whether the customer would see the agent typing now."""
        return run(lambda client: conversation_log.is_typing(client, self.keys, conversation_id, "agent"), self.url)

    def log(self, conversation_id: str) -> List[conversation_log.LogEntry]:
        """Every entry of the conversation log."""
        return run(lambda client: conversation_log.read_after(client, self.keys, conversation_id, "0-0", 1000),
                   self.url)

    def owner(self, conversation_id: str) -> ownership.OwnerState:
        """Who owns the conversation now."""
        return run(lambda client: ownership.current(client, self.keys, conversation_id), self.url)

    def promise_callback(self, language: str, contact: str, due: datetime) -> str:
        """A callback the bot promised (as actions/handoff_actions.py stores it); returns its case id."""
        case_id, conversation_id = self.new_ids()

        async def write(client: aioredis.Redis) -> None:
            await client.zadd(self.keys.callbacks(), {case_id: due.timestamp()})
            await client.hset(self.keys.callback(case_id), mapping={
                "case_id": case_id, "conversation_id": conversation_id,
                "due_at": due.isoformat(timespec="minutes"), "contact": contact,
                "language": language, "status": "pending",
            })

        run(write, self.url)
        return case_id

    def callback_status(self, case_id: str) -> Optional[str]:
        """The stored status of a promised callback."""
        return run(lambda client: client.hget(self.keys.callback(case_id), "status"), self.url)

    def presence(self, agent_id: str) -> str:
        """An agent's presence as stored."""
        return run(lambda client: agent_store.presence(client, self.keys, agent_id), self.url)


@pytest.fixture
def customers(redis_server: Tuple[str, str], keys: Keys) -> Customers:
    """Helper to queue customers and look at what the console did."""
    return Customers(redis_server[0], keys)


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until check() is truthy; its value, or an AssertionError naming what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
