"""Handoff bridge benchmark: offer latency, relay latency and socket capacity (run by hand, not in the tests).

Usage, from the repository root:

    PYTHONPATH=. .venv/bin/python -m bench.bridge_benchmark [--cases 200] [--messages 1000] [--sockets 2000]

One run starts a real bridge (`python -m handoff.bridge`) as a subprocess on a free port, with a
unique Redis key prefix on a real Redis (REDIS_URL, the local server, or an embedded one), and
measures, in order:

1. offer latency: from the handoff decision (this script, acting as the action server, has written
   the case hash, moved the owner bot -> queued and called queue.enqueue) to the `offer` frame at a
   signed-in, available agent's socket; the agent accepts and resolves the case to free capacity;
2. relay latency: agent -> customer (`message` frame sent -> the entry seen by an XREAD BLOCK reader
   on the conversation log, as the customer channel reads it) and customer -> agent (log append
   with author customer -> `message` frame at the agent socket);
3. capacity: K more agents hold one socket each (opened by a helper process, each pinging every few
   seconds); the bridge's VmRSS at rest and with the sockets open, how many connected, its CPU, fds
   and Redis connections, and offer/relay latency measured again while the sockets are open.

The bridge's keys are deleted afterwards. Results go to stdout and bench/results/bridge_<timestamp>.md
and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple
from unittest import mock

import redis.asyncio as aioredis
from websockets.client import WebSocketClientProtocol
from websockets.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from bench.rest_benchmark import busy_warning, finite, fmt, percentile, rss_kb
from handoff import agents as agent_store
from handoff import conversation_log, ownership
from handoff import queue as handoff_queue
from handoff.bridge import CONNECTION_TTL_S, HEARTBEAT_S, OFFER_TICK_S
from handoff.keys import Keys
from handoff.queue import QueueEntry
from handoff.relay import BLOCK_MS
from tests.support.redis_server import delete_prefix, start_redis
from tests.support.stack import ROOT, free_port, wait_http

RESULTS_DIR = ROOT / "bench" / "results"
PASSWORD = "bench-password-123"
OFFER_TARGET_MS = 50.0
RELAY_TARGET_MS = 20.0
MEMORY_TARGET_MB = 300.0
TARGET_SOCKETS = 2000
OFFER_WAIT_S = 15.0  # an offer not seen by then counts as failed
STEP_WAIT_S = 15.0  # accept -> assigned, resolve -> case_closed, message -> log entry
MAX_FAILURES = 10  # a phase stops early after this many failed samples
FIRST_MESSAGE_EVERY = 5  # every 5th handoff also times the customer's first message after the accept
OPEN_CONCURRENCY = 100  # sockets the helper opens at once
SETTLE_S = 5.0
CASE_LANGUAGE = "en"  # the measuring agents and the cases
HELD_LANGUAGE = "zh-Hans"  # the held agents: available and connected, but never offered these cases
CATEGORY = "billing"

Key = Tuple[str, str]
Arrival = Tuple[float, Optional["AgentConsole"]]


# --- results ---


@dataclass
class Latency:
    """Samples of one latency measurement (ms) and how many attempts failed."""

    phase: str
    metric: str
    target_ms: Optional[float]
    samples_ms: List[float] = field(default_factory=list)
    failures: int = 0

    def stats(self) -> Dict[str, Optional[float]]:
        """p50, p95 and max in ms (None when there are no samples)."""
        return {"p50_ms": finite(percentile(self.samples_ms, 50)), "p95_ms": finite(percentile(self.samples_ms, 95)),
                "max_ms": max(self.samples_ms) if self.samples_ms else None}

    def met(self) -> str:
        """yes / NO / blank: p95 against the target."""
        p95 = self.stats()["p95_ms"]
        if self.target_ms is None or p95 is None:
            return ""
        return "yes" if p95 < self.target_ms and not self.failures else "NO"


@dataclass
class Capacity:
    """What one bridge process did with K agent sockets open."""

    requested: int = 0
    welcomed: int = 0
    failed: int = 0
    open_s: float = 0.0
    open_errors: List[str] = field(default_factory=list)
    rss_start_mb: float = 0.0
    rss_before_mb: float = 0.0
    rss_open_mb: float = 0.0
    rss_after_loaded_mb: float = 0.0
    rss_peak_mb: float = 0.0
    bridge_fds: int = 0
    bridge_fd_limit: str = ""
    redis_clients_before: int = 0
    redis_clients_open: int = 0
    hold_s: float = 0.0
    bridge_cpu_pct: float = float("nan")
    redis_cpu_pct: float = float("nan")
    live_in_redis: int = 0
    liveness_samples: int = 0
    samples_with_not_live: int = 0
    most_not_live: int = 0
    least_margin_s: float = float("nan")
    holder_rss_mb: float = 0.0
    pings: int = 0
    pongs: int = 0
    ping_rtt_ms: Dict[str, Optional[float]] = field(default_factory=dict)
    closed_early: int = 0
    close_samples: List[str] = field(default_factory=list)
    frames_received: Dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    """Everything one run measured."""

    latencies: List[Latency] = field(default_factory=list)
    capacity: Capacity = field(default_factory=Capacity)
    problems: List[str] = field(default_factory=list)
    sign_in_ms: List[float] = field(default_factory=list)
    log_findings: Dict[str, Any] = field(default_factory=dict)


# --- waiting for frames and log entries ---


class Waiters:
    """Futures keyed by the frame or log entry they wait for; arrivals before the wait are kept."""

    def __init__(self) -> None:
        self.futures: Dict[Key, asyncio.Future] = {}
        self.early: Dict[Key, Arrival] = {}

    def expect(self, key: Key) -> asyncio.Future:
        """A future for the arrival of key (already done if it came first)."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        if key in self.early:
            future.set_result(self.early.pop(key))
        else:
            self.futures[key] = future
        return future

    def arrive(self, key: Key, arrival: Arrival) -> None:
        """Resolve the waiter of key, or keep the arrival for a later expect."""
        future = self.futures.pop(key, None)
        if future is None:
            self.early[key] = arrival
        elif not future.done():
            future.set_result(arrival)

    def forget(self, key: Key) -> None:
        """Stop waiting for key."""
        self.futures.pop(key, None)
        self.early.pop(key, None)


class AgentConsole:
    """A measuring agent's socket: a reader task stamps every frame as it arrives."""

    def __init__(self, name: str, ws: WebSocketClientProtocol, waiters: Waiters, problems: List[str]) -> None:
        self.name = name
        self.ws = ws
        self.waiters = waiters
        self.problems = problems
        self.counts: Counter = Counter()
        self.agent_id = ""
        self.task = asyncio.create_task(self.read())

    async def send(self, kind: str, **fields: Any) -> None:
        """Send one protocol frame."""
        await self.ws.send(json.dumps({"v": 1, "type": kind, **fields}))

    async def read(self) -> None:
        """Route frames to the waiters until the socket closes."""
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                self.route(json.loads(raw), time.perf_counter())

    def route(self, frame: Dict[str, Any], at: float) -> None:
        """Hand one frame to whoever waits for it."""
        kind = str(frame.get("type"))
        self.counts[kind] += 1
        if kind == "welcome":
            self.agent_id = str(frame["agent"]["agent_id"])
            self.waiters.arrive(("welcome", self.name), (at, self))
        elif kind in ("offer", "assigned"):
            self.waiters.arrive((kind, str(frame["case"]["case_id"])), (at, self))
        elif kind == "case_closed":
            self.waiters.arrive((kind, str(frame["case_id"])), (at, self))
        elif kind == "message" and frame.get("client_id"):
            self.waiters.arrive(("echo", str(frame["client_id"])), (at, self))
        elif kind == "message" and frame.get("author") == "customer":
            self.waiters.arrive(("message", str(frame["text"])), (at, self))
        elif kind == "error":
            self.problems.append(f"{self.name}: error {frame.get('code')} on {frame.get('ref_type')}: "
                                 f"{frame.get('detail')}")
            if frame.get("ref_type") in ("sign_in", "resume_session"):
                self.waiters.arrive(("welcome", self.name), (at, None))


@dataclass
class Bench:
    """The state shared by the measuring steps."""

    client: aioredis.Redis
    keys: Keys
    redis_url: str
    port: int
    bridge_pid: int
    report: Report
    waiters: Waiters = field(default_factory=Waiters)
    consoles: List[AgentConsole] = field(default_factory=list)
    held: List[Tuple[AgentConsole, str]] = field(default_factory=list)  # (console, conversation_id)
    numbers: Any = field(default_factory=lambda: itertools.count(1))
    day: str = field(default_factory=lambda: time.strftime("%Y%m%d"))


# --- process helpers ---


def raise_fd_limit() -> int:
    """Raise this process's soft open-file limit to the hard one; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def status_mb(pid: int, name: str) -> float:
    """A memory line (VmRSS, VmHWM) of /proc/PID/status in MB; 0 when unreadable."""
    if name == "VmRSS":
        return rss_kb(pid) / 1024.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_count(pid: int) -> int:
    """Open file descriptors of a process."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def fd_limit(pid: int) -> str:
    """The soft/hard open-file limit of a process, from /proc/PID/limits."""
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return f"{soft}/{hard}"
    except OSError:
        pass
    return "unknown"


def start_bridge(redis_url: str, prefix: str, port: int, log_path: Path) -> subprocess.Popen:
    """`python -m handoff.bridge` on a port with a key prefix and a raised fd limit, once healthy."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), REDIS_URL=redis_url, REDIS_KEY_PREFIX=prefix,
               HANDOFF_HOST="127.0.0.1", HANDOFF_PORT=str(port))
    process = subprocess.Popen([sys.executable, "-m", "handoff.bridge"], cwd=ROOT, env=env,
                               stdout=log_path.open("wb"), stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 60, process)
    except BaseException:
        stop_process(process)
        raise
    return process


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL when it does not exit in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def scan_log(log_path: Path) -> Dict[str, Any]:
    """Counts of fd exhaustion, errors and tracebacks in the bridge log, with a few samples."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    lines = text.splitlines()
    errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
    gone = [line for line in lines if " gone; " in line]
    return {
        "agents_declared_gone": len(gone),
        "gone_samples": gone[:10],
        "too_many_open_files": sum("Too many open files" in line for line in lines),
        "error_lines": len(errors),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "error_samples": sorted(set(line[:300] for line in errors))[:10],
    }


# --- cases: what the action server does ---


async def new_case(bench: Bench) -> QueueEntry:
    """A fresh conversation with a short customer transcript, and its queue entry (not yet queued)."""
    number = next(bench.numbers)
    conversation_id = f"web-bench{number:05d}-{uuid.uuid4().hex[:8]}"
    for text in ("My bill is wrong", "I was charged twice for order ZZ555666", "I want to talk to a person"):
        await conversation_log.append(bench.client, bench.keys, conversation_id, "customer", text)
    return QueueEntry(case_id=f"CMP-{bench.day}-{number:04d}", conversation_id=conversation_id,
                      language=CASE_LANGUAGE, skills_needed=CATEGORY, priority=50)


async def hand_off(bench: Bench, entry: QueueEntry) -> None:
    """The handoff decision: case hash written, owner bot -> queued, queue.enqueue."""
    await bench.client.hset(bench.keys.case(entry.case_id), mapping={
        "case_id": entry.case_id, "sender_id": entry.conversation_id, "channel": "webchat",
        "language": entry.language, "category": entry.skills_needed, "description": "My bill is wrong",
        "order_ref": "ZZ555666", "contact": "+85291234567", "status": "needs_human",
        "escalation_reasons": json.dumps(["customer_request"]), "frustration": "0.6",
        "enriched": json.dumps({"summary": f"Charged twice ({entry.case_id}); wants a person.",
                                "frustration": [0.2, 0.6], "customer": {"value_tier": "standard", "past_cases": []}}),
    })
    await ownership.transition(bench.client, bench.keys, entry.conversation_id, ownership.QUEUED,
                               case_id=entry.case_id, reason="customer_request")
    if not await handoff_queue.enqueue(bench.client, bench.keys, entry):
        raise RuntimeError(f"enqueue refused {entry.case_id}")


async def wait_step(bench: Bench, future: asyncio.Future, key: Key, what: str) -> Optional[Arrival]:
    """Wait for an arrival; None (and a problem noted) on timeout."""
    try:
        arrival: Arrival = await asyncio.wait_for(future, STEP_WAIT_S)
        return arrival
    except asyncio.TimeoutError:
        bench.waiters.forget(key)
        bench.report.problems.append(f"no {what} for {key[1]} within {STEP_WAIT_S:.0f} s")
        return None


async def take_case(bench: Bench, console: AgentConsole, case_id: str) -> bool:
    """Accept an offered case and wait for `assigned`."""
    key = ("assigned", case_id)
    future = bench.waiters.expect(key)
    await console.send("accept", case_id=case_id)
    return await wait_step(bench, future, key, "assigned") is not None


async def resolve_case(bench: Bench, console: AgentConsole, case_id: str) -> None:
    """Resolve a held case and wait for `case_closed`, so the agent has room again."""
    key = ("case_closed", case_id)
    future = bench.waiters.expect(key)
    await console.send("resolve", case_id=case_id, resolution_code="no_action_needed", note="benchmark")
    await wait_step(bench, future, key, "case_closed")


async def offer_once(bench: Bench, result: Latency, keep: bool,
                     first_message: Optional[Latency] = None) -> Optional[Tuple[AgentConsole, QueueEntry]]:
    """One handoff: time decision -> offer frame; accept (then time a customer message); resolve unless keep."""
    entry = await new_case(bench)
    key = ("offer", entry.case_id)
    offered = bench.waiters.expect(key)
    await hand_off(bench, entry)
    decided = time.perf_counter()
    try:
        at, console = await asyncio.wait_for(offered, OFFER_WAIT_S)
    except asyncio.TimeoutError:
        bench.waiters.forget(key)
        result.failures += 1
        bench.report.problems.append(f"{result.phase}: no offer of {entry.case_id} within {OFFER_WAIT_S:.0f} s")
        with contextlib.suppress(Exception):
            await handoff_queue.cancel(bench.client, bench.keys, entry.case_id)
        return None
    result.samples_ms.append((at - decided) * 1000.0)
    assert console is not None
    if not await take_case(bench, console, entry.case_id):
        return None
    if first_message is not None:
        await customer_to_agent(bench, entry.conversation_id, f"first-{entry.case_id}", first_message)
    if not keep:
        await resolve_case(bench, console, entry.case_id)
    return console, entry


async def measure_offers(bench: Bench, phase: str, count: int, concurrency: int, gap_ms: float) -> List[Latency]:
    """Offer latency over `count` handoffs, `concurrency` at a time, a random gap before each.

    Every FIRST_MESSAGE_EVERY-th case also times a customer message sent as soon as `assigned` arrived.
    """
    result = Latency(phase, "offer: handoff decision -> `offer` frame", OFFER_TARGET_MS)
    first = Latency(phase, "relay customer -> agent, first message right after `assigned`", RELAY_TARGET_MS)
    remaining = itertools.count()

    async def worker() -> None:
        """Hand off cases one after the other until the count is reached."""
        while (index := next(remaining)) < count and result.failures < MAX_FAILURES:
            await asyncio.sleep(random.uniform(0.0, gap_ms / 1000.0))
            await offer_once(bench, result, keep=False,
                             first_message=first if index % FIRST_MESSAGE_EVERY == 0 else None)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    print(f"  {phase}: {len(result.samples_ms)} offers in {time.perf_counter() - started:.1f} s, "
          f"p50 {fmt(percentile(result.samples_ms, 50))} ms, p95 {fmt(percentile(result.samples_ms, 95))} ms, "
          f"{result.failures} failed; first message after accept p95 {fmt(percentile(first.samples_ms, 95))} ms",
          flush=True)
    return [result, first]


# --- the measuring agents ---


async def create_agents(bench: Bench, names: Sequence[str], language: str, password_hash: str) -> List[str]:
    """Create accounts with agents.create_agent (scrypt done once, its hash reused); their ids."""
    limit = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(name: str) -> str:
        """Create one account."""
        async with limit:
            agent = await agent_store.create_agent(bench.client, bench.keys, name=name, password=PASSWORD,
                                                   role="agent", skills=["any"], languages=[language], max_chats=5)
            return agent.agent_id

    with mock.patch.object(agent_store, "hash_password", lambda password: password_hash):
        return list(await asyncio.gather(*(one(name) for name in names)))


async def sign_in_consoles(bench: Bench, count: int, password_hash: str) -> None:
    """Create `count` measuring agents and sign each in through the bridge (`sign_in`, real scrypt)."""
    names = [f"bench-agent-{index:02d}" for index in range(count)]
    await create_agents(bench, names, CASE_LANGUAGE, password_hash)
    for name in names:
        ws = await ws_connect(f"ws://127.0.0.1:{bench.port}/agent", ping_interval=None, max_size=2**22)
        console = AgentConsole(name, ws, bench.waiters, bench.report.problems)
        welcome = bench.waiters.expect(("welcome", name))
        started = time.perf_counter()
        await console.send("sign_in", name=name, password=PASSWORD)
        at, signed = await asyncio.wait_for(welcome, STEP_WAIT_S)
        if signed is None:
            raise RuntimeError(f"{name} could not sign in: {bench.report.problems[-1:]}")
        bench.report.sign_in_ms.append((at - started) * 1000.0)
        bench.consoles.append(console)


async def hold_cases(bench: Bench) -> None:
    """Give each measuring agent one case to keep, for the relay measurements."""
    scratch = Latency("setup", "offer", None)
    for _ in range(len(bench.consoles)):
        taken = await offer_once(bench, scratch, keep=True)
        if taken is not None:
            bench.held.append((taken[0], taken[1].conversation_id))
    if not bench.held:
        raise RuntimeError("no measuring agent could take a case; the relay cannot be measured")


# --- relay ---


async def log_reader(redis_url: str, keys: Keys, conversation_ids: List[str], waiters: Waiters,
                     stop: asyncio.Event) -> None:
    """The customer side: XREAD BLOCK on the held logs, stamping each agent entry as it appears."""
    reader = aioredis.from_url(redis_url, decode_responses=True)
    try:
        cursors: Dict[str, str] = {}
        for conversation_id in conversation_ids:
            cursors[keys.conversation_log(conversation_id)] = await conversation_log.last_id(
                reader, keys, conversation_id)
        while not stop.is_set():
            replies = await reader.xread(cursors, block=200, count=100)
            now = time.perf_counter()
            for stream, rows in replies or []:
                for entry_id, values in rows:
                    cursors[stream] = entry_id
                    if values.get("author") == "agent" and values.get("client_id"):
                        waiters.arrive(("log", values["client_id"]), (now, None))
    finally:
        await reader.close()
        await reader.connection_pool.disconnect()


async def agent_to_customer(bench: Bench, console: AgentConsole, conversation_id: str, tag: str,
                            relay: Latency, echo: Latency) -> None:
    """Agent `message` frame -> entry seen by the log reader; and -> the echo with its log id."""
    client_id = f"{tag}-a"
    logged, echoed = bench.waiters.expect(("log", client_id)), bench.waiters.expect(("echo", client_id))
    started = time.perf_counter()
    await console.send("message", conversation_id=conversation_id, text=f"Agent reply {tag}", client_id=client_id)
    for future, result, key in ((logged, relay, ("log", client_id)), (echoed, echo, ("echo", client_id))):
        try:
            at, _ = await asyncio.wait_for(future, STEP_WAIT_S)
            result.samples_ms.append((at - started) * 1000.0)
        except asyncio.TimeoutError:
            bench.waiters.forget(key)
            result.failures += 1


async def customer_to_agent(bench: Bench, conversation_id: str, tag: str, relay: Latency) -> None:
    """Customer entry appended to the log -> `message` frame at the agent socket."""
    text = f"Customer says {tag}"
    arrived = bench.waiters.expect(("message", text))
    started = time.perf_counter()
    await conversation_log.append(bench.client, bench.keys, conversation_id, "customer", text)
    try:
        at, _ = await asyncio.wait_for(arrived, STEP_WAIT_S)
        relay.samples_ms.append((at - started) * 1000.0)
    except asyncio.TimeoutError:
        bench.waiters.forget(("message", text))
        relay.failures += 1


async def drop_lost(bench: Bench, phase: str, console: AgentConsole, conversation_id: str) -> None:
    """After a failed relay sample: stop using a conversation its agent no longer owns, and say why."""
    owner = await ownership.current(bench.client, bench.keys, conversation_id)
    if owner.state == ownership.AGENT and owner.agent_id == console.agent_id:
        return
    bench.held = [(held, cid) for held, cid in bench.held if cid != conversation_id]
    bench.report.problems.append(
        f"{phase}: {console.name} ({console.agent_id}) lost {conversation_id} while its socket was open: owner now "
        f"{owner.state} ({', '.join(f'{name}={value}' for name, value in owner.extra.items())})")


async def measure_relay(bench: Bench, phase: str, count: int) -> List[Latency]:
    """`count` messages each way, one at a time, over the conversations the measuring agents hold."""
    to_customer = Latency(phase, "relay agent -> customer: `message` frame -> log entry read", RELAY_TARGET_MS)
    echo = Latency(phase, "agent echo: `message` frame -> echo with log id", None)
    to_agent = Latency(phase, "relay customer -> agent: log append -> `message` frame", RELAY_TARGET_MS)
    stop = asyncio.Event()
    reader = asyncio.create_task(log_reader(bench.redis_url, bench.keys, [cid for _, cid in bench.held],
                                            bench.waiters, stop))
    await asyncio.sleep(0.3)  # the reader has its cursors before the first message
    run = uuid.uuid4().hex[:6]
    started = time.perf_counter()
    failed_before = 0
    try:
        for index in range(count):
            if not bench.held:
                break
            console, conversation_id = bench.held[index % len(bench.held)]
            await agent_to_customer(bench, console, conversation_id, f"{run}-{index}", to_customer, echo)
            await asyncio.sleep(random.uniform(0.0, 0.005))
            await customer_to_agent(bench, conversation_id, f"{run}-{index}", to_agent)
            await asyncio.sleep(random.uniform(0.0, 0.005))
            if to_customer.failures + to_agent.failures > failed_before:
                await drop_lost(bench, phase, console, conversation_id)
                failed_before = to_customer.failures + to_agent.failures
            if not bench.held or to_customer.failures + to_agent.failures >= MAX_FAILURES:
                bench.report.problems.append(f"{phase}: relay stopped after {MAX_FAILURES} failed messages")
                break
    finally:
        stop.set()
        await asyncio.gather(reader, return_exceptions=True)
    print(f"  {phase}: {count} messages each way in {time.perf_counter() - started:.1f} s; p95 agent->customer "
          f"{fmt(percentile(to_customer.samples_ms, 95))} ms, customer->agent "
          f"{fmt(percentile(to_agent.samples_ms, 95))} ms", flush=True)
    return [to_customer, echo, to_agent]


# --- capacity: the held sockets live in a helper process ---


async def create_sessions(bench: Bench, count: int, password_hash: str) -> Tuple[List[str], List[str]]:
    """K agents (not matching the cases) and a session each, via agents.sign_in; (agent ids, tokens)."""
    names = [f"bench-held-{index:05d}" for index in range(count)]
    agent_ids = await create_agents(bench, names, HELD_LANGUAGE, password_hash)
    limit = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(name: str) -> str:
        """One session; the scrypt check was done once for the shared hash."""
        async with limit:
            session = await agent_store.sign_in(bench.client, bench.keys, name, PASSWORD)
            if session is None:
                raise RuntimeError(f"could not create a session for {name}")
            return session.token

    with mock.patch.object(agent_store, "verify_password", lambda password, stored: password == PASSWORD):
        tokens = list(await asyncio.gather(*(one(name) for name in names)))
    return agent_ids, tokens


async def start_holder(tokens_path: Path, port: int, ping_every: float) -> asyncio.subprocess.Process:
    """The helper process that opens and holds the sockets."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bridge_benchmark", "--hold", str(tokens_path), "--port", str(port),
        "--ping-every", str(ping_every), cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**22,
    )


async def read_event(holder: asyncio.subprocess.Process, wanted: str, timeout: float) -> Dict[str, Any]:
    """The helper's next JSON line of event `wanted` (progress lines are printed on the way)."""
    assert holder.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        line = await asyncio.wait_for(holder.stdout.readline(), max(0.1, deadline - time.monotonic()))
        if not line:
            raise RuntimeError(f"the socket helper exited (code {await holder.wait()}) before {wanted!r}")
        event = json.loads(line)
        if event.get("event") == wanted:
            return dict(event)
        if event.get("event") == "progress":
            print(f"    sockets: {event['welcomed']} welcomed, {event['failed']} failed "
                  f"({event['elapsed_s']:.0f} s)", flush=True)


async def stop_holder(holder: asyncio.subprocess.Process, capacity: Capacity) -> None:
    """Tell the helper to close its sockets and collect its ping statistics."""
    assert holder.stdin is not None
    with contextlib.suppress(Exception):
        holder.stdin.write(b"stop\n")
        await holder.stdin.drain()
        holder.stdin.close()
    try:
        done = await read_event(holder, "done", 120)
        capacity.pings, capacity.pongs = int(done["pings"]), int(done["pongs"])
        capacity.ping_rtt_ms = dict(done["rtt_ms"])
        capacity.closed_early = int(done["closed_early"])
        capacity.close_samples = list(done["close_samples"])
        capacity.frames_received = dict(done["frames"])
    finally:
        with contextlib.suppress(ProcessLookupError):
            holder.kill()
        await holder.wait()


async def redis_cpu_seconds(client: aioredis.Redis) -> float:
    """CPU seconds the Redis server has used (INFO cpu)."""
    info = await client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def redis_clients(client: aioredis.Redis) -> int:
    """Clients connected to the Redis server (all of them, not just this run's)."""
    return int((await client.info("clients"))["connected_clients"])


async def live_agents(bench: Bench, agent_ids: List[str]) -> int:
    """How many of the agents have a socket the bridge keeps counted as live in Redis."""
    now = time.time()
    async with bench.client.pipeline(transaction=False) as pipe:
        for agent_id in agent_ids:
            pipe.zcount(bench.keys.agent_connections(agent_id), now, "+inf")
        counts = await pipe.execute()
    return sum(1 for count in counts if int(count) > 0)


async def watch_liveness(bench: Bench, agent_ids: List[str], stop: asyncio.Event) -> None:
    """Every 2 s: how many connected agents the bridge's heartbeat keeps live in Redis, and the least margin."""
    capacity = bench.report.capacity
    least = float("inf")
    while not stop.is_set():
        now = time.time()
        async with bench.client.pipeline(transaction=False) as pipe:
            for agent_id in agent_ids:
                pipe.zrevrange(bench.keys.agent_connections(agent_id), 0, 0, withscores=True)
            replies = await pipe.execute()
        margins = [float(rows[0][1]) - now for rows in replies if rows]
        not_live = len(replies) - len(margins) + sum(1 for margin in margins if margin <= 0)
        least = min([least, *margins])
        capacity.liveness_samples += 1
        capacity.samples_with_not_live += 1 if not_live else 0
        capacity.most_not_live = max(capacity.most_not_live, not_live)
        capacity.least_margin_s = least if least != float("inf") else float("nan")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)


async def sample_usage(bench: Bench, capacity: Capacity, seconds: float) -> None:
    """Bridge and Redis CPU over a quiet window with every socket open; RSS, fds, Redis clients."""
    pid = bench.bridge_pid
    bridge_before, redis_before, started = cpu_seconds(pid), await redis_cpu_seconds(bench.client), time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    capacity.hold_s = elapsed
    capacity.bridge_cpu_pct = (cpu_seconds(pid) - bridge_before) / elapsed * 100.0
    capacity.redis_cpu_pct = (await redis_cpu_seconds(bench.client) - redis_before) / elapsed * 100.0
    capacity.rss_open_mb = status_mb(pid, "VmRSS")
    capacity.bridge_fds = fd_count(pid)
    capacity.bridge_fd_limit = fd_limit(pid)
    capacity.redis_clients_open = await redis_clients(bench.client)


async def measure_capacity(bench: Bench, args: argparse.Namespace, password_hash: str, work_dir: Path) -> None:
    """Open K held sockets, measure the bridge with them open, measure latency again, close them."""
    capacity = bench.report.capacity
    capacity.requested = args.sockets
    capacity.rss_before_mb = status_mb(bench.bridge_pid, "VmRSS")
    capacity.redis_clients_before = await redis_clients(bench.client)
    print(f"Capacity: creating {args.sockets} agents and sessions", flush=True)
    agent_ids, tokens = await create_sessions(bench, args.sockets, password_hash)
    tokens_path = work_dir / "tokens.json"
    tokens_path.write_text(json.dumps(tokens), encoding="utf-8")
    print(f"Capacity: opening {args.sockets} agent sockets (resume_session) from a helper process", flush=True)
    holder = await start_holder(tokens_path, bench.port, args.ping_every)
    stop_watching = asyncio.Event()
    watcher: Optional[asyncio.Task] = None
    try:
        ready = await read_event(holder, "ready", 120 + args.sockets / 5)
        capacity.welcomed, capacity.failed = int(ready["welcomed"]), int(ready["failed"])
        capacity.open_s, capacity.open_errors = float(ready["elapsed_s"]), list(ready["errors"])
        capacity.holder_rss_mb = float(ready["rss_mb"])
        print(f"  {capacity.welcomed} of {args.sockets} sockets signed in in {capacity.open_s:.1f} s "
              f"({capacity.failed} failed); settling {SETTLE_S:.0f} s, then {args.hold_seconds:.0f} s quiet "
              "sample", flush=True)
        watched = agent_ids + [console.agent_id for console in bench.consoles]
        watcher = asyncio.create_task(watch_liveness(bench, watched, stop_watching))
        await asyncio.sleep(SETTLE_S)
        await sample_usage(bench, capacity, args.hold_seconds)
        capacity.live_in_redis = await live_agents(bench, agent_ids)
        print(f"  bridge RSS {capacity.rss_open_mb:.1f} MB, CPU {capacity.bridge_cpu_pct:.0f}% at rest, "
              f"{capacity.bridge_fds} fds, {capacity.live_in_redis} agents live in Redis", flush=True)
        phase = f"{capacity.welcomed} sockets open"
        bench.report.latencies.extend(
            await measure_offers(bench, phase, args.loaded_cases, args.offer_concurrency, args.offer_gap_ms))
        bench.report.latencies.extend(await measure_relay(bench, phase, args.loaded_messages))
        capacity.rss_after_loaded_mb = status_mb(bench.bridge_pid, "VmRSS")
    finally:
        stop_watching.set()
        if watcher is not None:
            await asyncio.gather(watcher, return_exceptions=True)
        await stop_holder(holder, capacity)
    capacity.rss_peak_mb = status_mb(bench.bridge_pid, "VmHWM")


# --- the helper process that holds the sockets ---


@dataclass
class HoldStats:
    """What the helper saw on its sockets."""

    welcomed: int = 0
    failed: int = 0
    errors: List[str] = field(default_factory=list)
    pings: int = 0
    pongs: int = 0
    rtt_ms: List[float] = field(default_factory=list)
    frames: Counter = field(default_factory=Counter)
    closed_early: int = 0
    close_samples: List[str] = field(default_factory=list)
    stopping: bool = False

    def note(self, samples: List[str], text: str) -> None:
        """Keep a few distinct samples."""
        if len(samples) < 10 and text not in samples:
            samples.append(text)


def emit(event: str, **fields: Any) -> None:
    """One JSON line to the parent."""
    print(json.dumps({"event": event, **fields}), flush=True)


async def read_held(ws: WebSocketClientProtocol, pending: List[float], stats: HoldStats) -> None:
    """Read every frame (a socket that is not read would stall the bridge), timing pongs."""
    async for raw in ws:
        kind = str(json.loads(raw).get("type"))
        stats.frames[kind] += 1
        if kind == "pong" and pending:
            stats.pongs += 1
            stats.rtt_ms.append((time.perf_counter() - pending.pop(0)) * 1000.0)


async def keep_socket(ws: WebSocketClientProtocol, stats: HoldStats, ping_every: float) -> None:
    """Read a held socket and ping it every ping_every seconds until stopped."""
    pending: List[float] = []
    reader = asyncio.create_task(read_held(ws, pending, stats))
    try:
        await asyncio.sleep(random.uniform(0.0, ping_every))
        while not reader.done():
            pending.append(time.perf_counter())
            stats.pings += 1
            await ws.send(json.dumps({"v": 1, "type": "ping"}))
            await asyncio.sleep(ping_every)
        await reader
    except ConnectionClosed:
        pass
    finally:
        reader.cancel()
    if not stats.stopping:
        stats.closed_early += 1
        stats.note(stats.close_samples, f"code {ws.close_code} {ws.close_reason!r}")


async def open_held(url: str, token: str, limit: asyncio.Semaphore, stats: HoldStats, ping_every: float,
                    keepers: List[asyncio.Task]) -> Optional[WebSocketClientProtocol]:
    """Open one socket, resume its session and start keeping it; None when that failed."""
    async with limit:
        try:
            ws = await ws_connect(url, open_timeout=60, ping_interval=None, close_timeout=5, max_size=2**22)
            await ws.send(json.dumps({"v": 1, "type": "resume_session", "token": token}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if frame.get("type") in ("welcome", "error"):
                    break
            if frame["type"] != "welcome":
                raise RuntimeError(f"resume_session answered {frame.get('code')}: {frame.get('detail')}")
        except (OSError, asyncio.TimeoutError, WebSocketException, RuntimeError) as problem:
            stats.failed += 1
            stats.note(stats.errors, f"{type(problem).__name__}: {problem}"[:300])
            return None
    stats.welcomed += 1
    keepers.append(asyncio.create_task(keep_socket(ws, stats, ping_every)))
    return ws


async def report_progress(stats: HoldStats, total: int, started: float) -> None:
    """A progress line every few seconds while the sockets open."""
    while stats.welcomed + stats.failed < total:
        await asyncio.sleep(5.0)
        emit("progress", welcomed=stats.welcomed, failed=stats.failed, elapsed_s=time.perf_counter() - started)


async def hold(tokens: List[str], port: int, ping_every: float) -> None:
    """Open a socket per token, hold them until a line (or EOF) on stdin, then close them."""
    stats = HoldStats()
    keepers: List[asyncio.Task] = []
    limit = asyncio.Semaphore(OPEN_CONCURRENCY)
    url = f"ws://127.0.0.1:{port}/agent"
    started = time.perf_counter()
    progress = asyncio.create_task(report_progress(stats, len(tokens), started))
    sockets = await asyncio.gather(*(open_held(url, token, limit, stats, ping_every, keepers) for token in tokens))
    progress.cancel()
    emit("ready", welcomed=stats.welcomed, failed=stats.failed, errors=stats.errors,
         elapsed_s=time.perf_counter() - started, rss_mb=status_mb(os.getpid(), "VmRSS"))
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stats.stopping = True
    still_open = sum(1 for ws in sockets if ws is not None and ws.open)
    for task in keepers:
        task.cancel()
    await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in sockets if ws is not None),
                                          return_exceptions=True), 60)
    emit("done", pings=stats.pings, pongs=stats.pongs, still_open=still_open, closed_early=stats.closed_early,
         close_samples=stats.close_samples, frames=dict(stats.frames),
         rtt_ms={"p50_ms": finite(percentile(stats.rtt_ms, 50)), "p95_ms": finite(percentile(stats.rtt_ms, 95)),
                 "max_ms": max(stats.rtt_ms) if stats.rtt_ms else None})


def hold_main(tokens_path: Path, port: int, ping_every: float) -> int:
    """Entry point of the helper process."""
    raise_fd_limit()
    asyncio.run(hold(json.loads(tokens_path.read_text(encoding="utf-8")), port, ping_every))
    return 0


# --- report ---


def latency_table(latencies: List[Latency]) -> List[str]:
    """Markdown rows: phase, measurement, n, failed, p50, p95, max, target, met."""
    lines = ["| phase | measurement | n | failed | p50 ms | p95 ms | max ms | target p95 | met |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for result in latencies:
        stats = result.stats()
        target = f"< {result.target_ms:.0f} ms" if result.target_ms is not None else ""
        lines.append(
            f"| {result.phase} | {result.metric} | {len(result.samples_ms)} | {result.failures} | "
            f"{fmt(stats['p50_ms'] or float('nan'))} | {fmt(stats['p95_ms'] or float('nan'))} | "
            f"{fmt(stats['max_ms'] or float('nan'))} | {target} | {result.met()} |"
        )
    return lines


def capacity_table(capacity: Capacity) -> List[str]:
    """Markdown rows: what the bridge did with the sockets open."""
    opened = max(capacity.welcomed, 1)
    per_socket_kb = (capacity.rss_open_mb - capacity.rss_before_mb) * 1024.0 / opened
    memory_met = "yes" if capacity.rss_open_mb < MEMORY_TARGET_MB and capacity.welcomed >= TARGET_SOCKETS else (
        "NO" if capacity.rss_open_mb >= MEMORY_TARGET_MB else f"n/a (only {capacity.welcomed} sockets)")
    rtt = capacity.ping_rtt_ms
    rows = [
        ("agent sockets requested / signed in / failed",
         f"{capacity.requested} / {capacity.welcomed} / {capacity.failed}", ""),
        ("time to open and sign in (resume_session), 100 at a time", f"{capacity.open_s:.1f} s", ""),
        ("bridge VmRSS right after start", f"{capacity.rss_start_mb:.1f} MB", ""),
        ("bridge VmRSS before the sockets (after the idle phases)", f"{capacity.rss_before_mb:.1f} MB", ""),
        ("bridge VmRSS with all sockets open, at rest", f"{capacity.rss_open_mb:.1f} MB",
         f"< {MEMORY_TARGET_MB:.0f} MB with {TARGET_SOCKETS}: {memory_met}"),
        ("bridge VmRSS per open socket", f"{per_socket_kb:.1f} KB", ""),
        ("bridge VmRSS after the loaded latency phases", f"{capacity.rss_after_loaded_mb:.1f} MB", ""),
        ("bridge peak RSS (VmHWM)", f"{capacity.rss_peak_mb:.1f} MB", ""),
        ("bridge CPU with all sockets open, no cases", f"{fmt(capacity.bridge_cpu_pct, 0)} % of one core "
         f"(over {capacity.hold_s:.0f} s)", ""),
        ("Redis CPU in the same window", f"{fmt(capacity.redis_cpu_pct, 0)} % of one core", ""),
        ("bridge open fds / its limit (soft/hard)", f"{capacity.bridge_fds} / {capacity.bridge_fd_limit}", ""),
        ("Redis connected clients before / with sockets open",
         f"{capacity.redis_clients_before} / {capacity.redis_clients_open}", ""),
        ("held agents counted live in Redis (connections set) after opening",
         f"{capacity.live_in_redis} of {capacity.welcomed}", ""),
        ("liveness samples (every 2 s while open) with any connected agent not live / most at once",
         f"{capacity.samples_with_not_live} of {capacity.liveness_samples} / {capacity.most_not_live}", ""),
        ("least heartbeat margin seen (expiry - now; <= 0 means counted gone)",
         f"{fmt(capacity.least_margin_s)} s", f"> 0 (expiry is {CONNECTION_TTL_S:g} s after each heartbeat)"),
        ("pings sent / pongs received", f"{capacity.pings} / {capacity.pongs}", ""),
        ("ping -> pong p50 / p95 / max", f"{fmt(rtt.get('p50_ms') or float('nan'))} / "
         f"{fmt(rtt.get('p95_ms') or float('nan'))} / {fmt(rtt.get('max_ms') or float('nan'))} ms", ""),
        ("held sockets closed by the bridge before the end", str(capacity.closed_early), ""),
        ("helper process (client side) VmRSS", f"{capacity.holder_rss_mb:.1f} MB", ""),
    ]
    lines = ["| measurement | value | target |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    return lines


def notes(report: Report, args: argparse.Namespace) -> List[str]:
    """What the numbers mean, including whether the offer poll dominates."""
    tick_ms = OFFER_TICK_S * 1000.0
    lines = [
        f"- Offer loop: handoff.bridge polls every OFFER_TICK_S = {OFFER_TICK_S} s (woken early only by events "
        "inside the bridge process: accept, decline, presence, sign-in). The action server runs in another "
        "process and nothing wakes the bridge when it enqueues, so an offer waits for the next tick: expect "
        f"roughly uniform 0-{tick_ms:.0f} ms (p50 ~{tick_ms / 2:.0f}, p95 ~{tick_ms * 0.95:.0f}) plus one offer "
        "round.",
    ]
    for result in report.latencies:
        if not result.metric.startswith("offer") or not result.samples_ms:
            continue
        p50 = percentile(result.samples_ms, 50)
        over = sum(1 for value in result.samples_ms if value > tick_ms)
        share = sum(1 for value in result.samples_ms if value > OFFER_TARGET_MS) / len(result.samples_ms) * 100
        if p50 > tick_ms:
            verdict = ("NOT explained by the polling interval alone: the offer round itself (one ZCOUNT per "
                       "available agent, in sequence, on a busy event loop) takes longer than a tick")
        elif p50 >= 0.3 * tick_ms:
            verdict = "dominated by the polling interval"
        else:
            verdict = "not dominated by the polling interval"
        lines.append(f"- Offer latency ({result.phase}): p50 {p50:.0f} ms, {share:.0f}% of offers over "
                     f"{OFFER_TARGET_MS:.0f} ms, {over} over one tick ({tick_ms:.0f} ms): {verdict}.")
    lines += [
        f"- Offer cases: {args.offer_concurrency} at a time, a random 0-{args.offer_gap_ms:.0f} ms gap before each "
        "(so the enqueue falls at a random point of the tick); each offer is accepted at once and the case "
        "resolved, so capacity never delays an offer. The measuring agents speak "
        f"{CASE_LANGUAGE} (skills any, max 5 chats); the held agents speak {HELD_LANGUAGE} only, so they are "
        "available and connected (the offer round considers them) but never chosen.",
        f"- First message after accept: every {FIRST_MESSAGE_EVERY}th handoff appends a customer entry as soon as "
        "`assigned` arrives. The socket's relay task, woken by the accept's nudge, can start its next XREAD BLOCK "
        "before the accept handler has added the new conversation to the socket's cursors (it is skipped while "
        "being claimed); that entry then waits until the XREAD returns (up to BLOCK_MS) or something else wakes "
        "it. A slow row here and fast steady-state relay rows point at that race.",
        "- Relay: one message at a time, alternating agent -> customer and customer -> agent over the "
        f"conversations the {len(report.sign_in_ms)} measuring agents hold. The bridge relays customer entries "
        f"with XREAD BLOCK ({BLOCK_MS} ms) per socket, so delivery is event-driven, not polled.",
        "- Times are taken in this process with time.perf_counter: the offer clock starts after queue.enqueue "
        "returns; the relay clocks start just before the frame is sent or the entry appended.",
        "- Held sockets: agents created with agents.create_agent and sessions with agents.sign_in in this process "
        "(the scrypt hash computed once and reused, since 2000 scrypt checks take minutes), then opened from a "
        f"helper process with `resume_session`, each reading every frame and sending `ping` every "
        f"{args.ping_every:g} s (no library keepalive; the client offers permessage-deflate like a browser). "
        f"The measuring agents sign in through the bridge with `sign_in` (real scrypt): p50 "
        f"{fmt(percentile(report.sign_in_ms, 50), 0)} ms.",
        f"- The bridge heartbeats every socket every {HEARTBEAT_S:g} s (one Redis transaction each) and each "
        "signed-in socket runs its own relay loop with a blocking XREAD, i.e. one Redis connection per socket.",
        "- VmRSS is read from /proc/PID/status of the bridge process (one process, no children); MB = kB / 1024.",
        "- The bridge, Redis, this script and the socket helper share the machine's CPUs.",
    ]
    return lines


def findings_lines(report: Report) -> List[str]:
    """Problems seen during the run, and the bridge log."""
    found = report.log_findings
    lines = [f"- bridge log: {found.get('error_lines', 0)} ERROR line(s), {found.get('tracebacks', 0)} "
             f"traceback(s), {found.get('too_many_open_files', 0)} 'Too many open files', "
             f"{found.get('agents_declared_gone', 0)} agent(s) declared gone (chats put back in the queue)"]
    lines += [f"    - `{sample}`" for sample in found.get("error_samples", []) + found.get("gone_samples", [])]
    capacity = report.capacity
    if capacity.open_errors:
        lines.append("- socket open failures (samples):")
        lines += [f"    - {sample}" for sample in capacity.open_errors]
    if capacity.close_samples:
        lines.append("- held sockets closed early (samples):")
        lines += [f"    - {sample}" for sample in capacity.close_samples]
    distinct = sorted(set(report.problems))
    lines += [f"- {problem}" for problem in distinct[:20]]
    if len(distinct) > 20:
        lines.append(f"- ... and {len(distinct) - 20} more")
    return lines


def header_lines(command: str, redis_url: str, prefix: str, log_path: Path, load: Tuple[float, float, float],
                 warning: Optional[str]) -> List[str]:
    """Title, command, machine, targets."""
    return [
        f"# Handoff bridge benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}",
        "",
        f"Command: `{command}`",
        "",
        f"- Machine: {os.cpu_count()} CPU(s), {platform.platform()}, Python {platform.python_version()}; "
        f"load average at start: {' '.join(f'{value:.2f}' for value in load)}",
        f"- Redis {redis_url}, key prefix {prefix} (deleted afterwards); bridge log: {log_path}",
        f"- Targets on this machine: offer p95 < {OFFER_TARGET_MS:.0f} ms, relay p95 < {RELAY_TARGET_MS:.0f} ms, "
        f"{TARGET_SOCKETS} sockets < {MEMORY_TARGET_MB:.0f} MB (the bridge serves agent sockets only; customer "
        "sockets go to the Rasa webchat channel, so the bridge is measured with agent sockets).",
        *([f"- {warning}"] if warning else []),
    ]


def render(header: List[str], report: Report, args: argparse.Namespace) -> str:
    """The whole markdown report."""
    lines = [*header, "", "## Latency", "", *latency_table(report.latencies)]
    if report.capacity.requested:
        lines += ["", f"## Capacity ({report.capacity.requested} agent sockets, one bridge process)", "",
                  *capacity_table(report.capacity)]
    lines += ["", "## Notes", "", *notes(report, args), "", "## Problems", "", *findings_lines(report)]
    return "\n".join(lines) + "\n"


def to_json(report: Report, args: argparse.Namespace, command: str, extra: Dict[str, Any]) -> Dict[str, Any]:
    """The raw results."""
    return {
        "command": command, "args": vars(args), "cpus": os.cpu_count(), **extra,
        "offer_tick_s": OFFER_TICK_S,
        "targets": {"offer_p95_ms": OFFER_TARGET_MS, "relay_p95_ms": RELAY_TARGET_MS,
                    "memory_mb": MEMORY_TARGET_MB, "sockets": TARGET_SOCKETS},
        "latencies": [{**asdict(result), **result.stats(), "met": result.met()} for result in report.latencies],
        "capacity": asdict(report.capacity),
        "sign_in_ms": report.sign_in_ms,
        "problems": report.problems,
        "bridge_log": report.log_findings,
    }


def save(text: str, data: Dict[str, Any], stamp: str) -> Tuple[Path, Path]:
    """Write bench/results/bridge_<stamp>.md and .json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    markdown, raw = RESULTS_DIR / f"bridge_{stamp}.md", RESULTS_DIR / f"bridge_{stamp}.json"
    markdown.write_text(text, encoding="utf-8")
    raw.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return markdown, raw


# --- main ---


async def run(args: argparse.Namespace, redis_url: str, prefix: str, port: int, bridge_pid: int,
              report: Report, work_dir: Path) -> None:
    """Every measurement against the running bridge."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    bench = Bench(client=client, keys=Keys(prefix), redis_url=redis_url, port=port, bridge_pid=bridge_pid,
                  report=report)
    try:
        password_hash = await asyncio.to_thread(agent_store.hash_password, PASSWORD)
        print(f"Signing in {args.agents} measuring agents through the bridge", flush=True)
        await sign_in_consoles(bench, args.agents, password_hash)
        print(f"Offer latency: {args.cases} cases", flush=True)
        report.latencies.extend(
            await measure_offers(bench, "idle bridge", args.cases, args.offer_concurrency, args.offer_gap_ms))
        await hold_cases(bench)
        print(f"Relay latency: {args.messages} messages each way", flush=True)
        report.latencies.extend(await measure_relay(bench, "idle bridge", args.messages))
        if args.sockets > 0:
            await measure_capacity(bench, args, password_hash, work_dir)
    finally:
        for console in bench.consoles:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(console.ws.close(), 10)
            console.task.cancel()
        await client.close()
        await client.connection_pool.disconnect()


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=200, help="handoffs for the offer latency (default 200)")
    parser.add_argument("--messages", type=int, default=1000, help="messages each way for the relay (default 1000)")
    parser.add_argument("--sockets", type=int, default=TARGET_SOCKETS,
                        help=f"agent sockets held for the capacity test (default {TARGET_SOCKETS}; 0 skips it)")
    parser.add_argument("--loaded-cases", type=int, default=None,
                        help="handoffs with the sockets open (default: cases / 4, at least 10)")
    parser.add_argument("--loaded-messages", type=int, default=None,
                        help="messages each way with the sockets open (default: messages / 5, at least 20)")
    parser.add_argument("--agents", type=int, default=4, help="measuring agents (default 4)")
    parser.add_argument("--offer-concurrency", type=int, default=1, help="handoffs in flight at once (default 1)")
    parser.add_argument("--offer-gap-ms", type=float, default=500.0,
                        help="random 0..N ms pause before each handoff (default 500)")
    parser.add_argument("--ping-every", type=float, default=5.0, help="seconds between pings per held socket")
    parser.add_argument("--hold-seconds", type=float, default=10.0,
                        help="quiet window for the CPU sample with every socket open (default 10)")
    parser.add_argument("--hold", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loaded_cases is None:
        args.loaded_cases = max(10, args.cases // 4)
    if args.loaded_messages is None:
        args.loaded_messages = max(20, args.messages // 5)
    return args


def exact_command() -> str:
    """The command line as it was typed, for the report."""
    python = os.path.relpath(sys.executable, Path.cwd()) if sys.executable else "python"
    return "PYTHONPATH=. " + shlex.join([python, "-m", "bench.bridge_benchmark", *sys.argv[1:]])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; exit 1 when a sample failed or not every socket connected."""
    args = parse_args(argv)
    if args.hold is not None:
        return hold_main(args.hold, args.port, args.ping_every)
    command, stamp, load = exact_command(), time.strftime("%Y%m%d-%H%M%S"), os.getloadavg()
    print(command, flush=True)
    warning = busy_warning()
    if warning:
        print(warning, flush=True)
    print(f"This process may open {raise_fd_limit()} files", flush=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f"bridge-bench-{stamp}-"))
    log_path = work_dir / "bridge.log"
    redis_url, embedded = start_redis()
    prefix = "bench" + uuid.uuid4().hex[:10]
    port = free_port()
    report = Report()
    print(f"Starting the bridge on port {port} (Redis {redis_url}, key prefix {prefix}, log {log_path})", flush=True)
    bridge = start_bridge(redis_url, prefix, port, log_path)
    try:
        time.sleep(2.0)
        report.capacity.rss_start_mb = status_mb(bridge.pid, "VmRSS")
        asyncio.run(run(args, redis_url, prefix, port, bridge.pid, report, work_dir))
    finally:
        stop_process(bridge)
        delete_prefix(redis_url, prefix)
        if embedded is not None:
            embedded.stop()  # type: ignore[attr-defined]
    report.log_findings = scan_log(log_path)
    header = header_lines(command, redis_url, prefix, log_path, load, warning)
    text = render(header, report, args)
    markdown, raw = save(text, to_json(report, args, command, {"redis_url": redis_url, "prefix": prefix,
                                                               "load_average_start": load}), stamp)
    print()
    print(text)
    print(f"Saved {markdown.relative_to(ROOT)} and {raw.relative_to(ROOT)}")
    failed = any(result.failures for result in report.latencies)
    return 1 if failed or report.capacity.welcomed < report.capacity.requested else 0


if __name__ == "__main__":
    sys.exit(main())
