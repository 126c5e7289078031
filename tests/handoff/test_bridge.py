"""The bridge end to end: a real Redis, real WebSockets, the bridge started in-process."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
import pytest_asyncio
import websockets

from handoff import agents, conversation_log, ownership
from handoff import queue as handoff_queue
from handoff.bridge import Bridge, running_bridge
from handoff.queue import QueueEntry
from handoff.settings import HandoffSettings

PASSWORD = "correct horse battery"
T0 = time.time() - 600

RESPONSES = """
version: "3.1"
responses:
  utter_agent_joined:
  - condition: [{type: slot, name: language, value: en}]
    text: "{agent_name} has joined."
  - condition: [{type: slot, name: language, value: zh-Hans}]
    text: "{agent_name} 已加入对话。"
  - condition: [{type: slot, name: language, value: zh-Hant}]
    text: "{agent_name} 已加入對話。"
  utter_agent_left:
  - condition: [{type: slot, name: language, value: en}]
    text: "The agent left."
  utter_case_resolved:
  - condition: [{type: slot, name: language, value: en}]
    text: "Case {case_id} is resolved."
  - condition: [{type: slot, name: language, value: zh-Hant}]
    text: "個案 {case_id} 已解決。"
  utter_handed_back:
  - condition: [{type: slot, name: language, value: en}]
    text: "You are back with the assistant."
  utter_ask_csat:
  - condition: [{type: slot, name: language, value: en}]
    text: "How did we do?"
    buttons:
    - title: "5"
      payload: '/rate{{"score": 5}}'
    - title: "1"
      payload: '/rate{{"score": 1}}'
"""


# --- fixtures and helpers ---


@pytest.fixture
def settings(redis_url, keys) -> HandoffSettings:
    return HandoffSettings(
        redis_url=redis_url,
        key_prefix=keys.prefix,
        offer_timeout_s=1,
        reconnect_grace_s=1,
        host="127.0.0.1",
        port=0,
    )


@pytest.fixture
def options(tmp_path: Path) -> Dict[str, Any]:
    responses = tmp_path / "handoff.yml"
    responses.write_text(RESPONSES, encoding="utf-8")
    console = tmp_path / "console"
    console.mkdir()
    (console / "index.html").write_text("<!doctype html><title>console</title>", encoding="utf-8")
    (console / "app.js").write_text("console.log('hi');", encoding="utf-8")
    (tmp_path / "secret.js").write_text("nope", encoding="utf-8")
    return {"responses_path": responses, "console_dir": console}


@pytest_asyncio.fixture
async def bridge(settings, options):
    async with running_bridge(settings, **options) as running:
        yield running


class Console:
    """A test agent console on one socket."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.seen: List[Dict[str, Any]] = []

    async def send(self, kind: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"v": 1, "type": kind, **fields}))

    async def expect(
        self, *kinds: str, timeout: float = 6.0, where: Optional[Callable[[Dict[str, Any]], bool]] = None
    ) -> Dict[str, Any]:
        """The next frame of one of the kinds (others are kept in `seen`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {kinds} frame within {timeout}s; saw {[f['type'] for f in self.seen]}")
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            self.seen.append(frame)
            if frame["type"] in kinds and (where is None or where(frame)):
                return frame

    async def collect(self, kind: str, seconds: float) -> List[Dict[str, Any]]:
        """Every frame of a kind arriving within some seconds."""
        found: List[Dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + seconds
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            except asyncio.TimeoutError:
                break
            self.seen.append(frame)
            if frame["type"] == kind:
                found.append(frame)
        return found

    async def ask(self, kind: str, answer: str, **fields: Any) -> Dict[str, Any]:
        """Send a frame and wait for its answer or an error about it."""
        await self.send(kind, **fields)
        return await self.expect(answer, "error", where=lambda f: f["type"] == answer or f.get("ref_type") == kind)

    async def close(self) -> None:
        await self.ws.close()


async def connect(bridge: Bridge) -> Console:
    return Console(await websockets.connect(f"ws://127.0.0.1:{bridge.port}/agent"))


async def signed_in(bridge: Bridge, name: str) -> Tuple[Console, Dict[str, Any]]:
    console = await connect(bridge)
    welcome = await console.ask("sign_in", "welcome", name=name, password=PASSWORD)
    assert welcome["type"] == "welcome", welcome
    return console, welcome


async def make_agent(client, keys, name: str, languages=("en",), skills=("any",), **options) -> agents.Agent:
    return await agents.create_agent(
        client, keys, name=name, password=PASSWORD, role=options.pop("role", "agent"),
        skills=skills, languages=languages, **options,
    )


async def make_case(
    client, keys, n: int, language: str = "en", category: str = "billing", enqueued_at: Optional[float] = None,
    transcript: Tuple[str, ...] = ("My bill is wrong",), **entry_fields: Any,
) -> QueueEntry:
    """A case as the action server leaves it: case hash, log, owner queued, queue entry."""
    case_id = f"CMP-20261123-{n:04d}"
    conversation_id = f"web-{n}-{int(time.time() * 1000)}"
    await client.hset(
        keys.case(case_id),
        mapping={
            "case_id": case_id, "sender_id": conversation_id, "channel": "webchat", "language": language,
            "category": category, "description": transcript[0] if transcript else "", "order_ref": "ZZ555666",
            "contact": "+85291234567", "status": "needs_human",
            "escalation_reasons": json.dumps(["customer_request"]), "frustration": "0.6",
            "enriched": json.dumps({"summary": f"summary of {case_id}", "frustration": [0.1, 0.6],
                                    "customer": {"value_tier": "gold", "past_cases": []}}),
        },
    )
    for text in transcript:
        await conversation_log.append(client, keys, conversation_id, "customer", text)
    entry = QueueEntry(
        case_id=case_id, conversation_id=conversation_id, language=language, skills_needed=category,
        priority=entry_fields.pop("priority", 50), enqueued_at=enqueued_at or time.time(), **entry_fields,
    )
    await ownership.transition(client, keys, conversation_id, ownership.QUEUED, case_id=case_id)
    assert await handoff_queue.enqueue(client, keys, entry)
    return entry


async def take(console: Console, entry: QueueEntry) -> Dict[str, Any]:
    """Accept the offer of a case (waiting for it first)."""
    await console.expect("offer", where=lambda f: f["case"]["case_id"] == entry.case_id)
    assigned = await console.ask("accept", "assigned", case_id=entry.case_id)
    assert assigned["type"] == "assigned", assigned
    return assigned


async def eventually(check: Callable[[], Any], timeout: float = 6.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def http_get(port: int, path: str) -> Tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.headers.get("Content-Type", ""), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


# --- HTTP ---


async def test_health_ok_and_static_files(bridge) -> None:
    status, kind, body = await asyncio.to_thread(http_get, bridge.port, "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok", "redis": "ok"})
    assert kind.startswith("application/json")
    status, kind, body = await asyncio.to_thread(http_get, bridge.port, "/")
    assert status == 200 and kind.startswith("text/html") and b"console" in body
    status, kind, _ = await asyncio.to_thread(http_get, bridge.port, "/app.js?v=3")
    assert status == 200 and kind.startswith("text/javascript")
    for path in ("/missing.js", "/../secret.js", "/%2e%2e/secret.js", "/sub/app.js", "/.env", "/app.py"):
        assert (await asyncio.to_thread(http_get, bridge.port, path))[0] == 404, path


async def test_health_503_when_redis_is_down(settings, options, tmp_path) -> None:
    dead = replace(settings, redis_url="redis://127.0.0.1:1/0")
    async with running_bridge(dead, **{**options, "console_dir": tmp_path / "no-console"}) as down:
        status, _, body = await asyncio.to_thread(http_get, down.port, "/health")
        assert status == 503 and json.loads(body)["redis"] != "ok"
        assert (await asyncio.to_thread(http_get, down.port, "/"))[0] == 404  # no console folder


# --- sessions and frame validation ---


async def test_sign_in_good_and_bad(bridge, client, keys) -> None:
    alice = await make_agent(client, keys, "alice", languages=("en", "zh-Hans"), skills=("billing",))
    console = await connect(bridge)
    bad = await console.ask("sign_in", "welcome", name="alice", password="wrong password")
    assert (bad["type"], bad["code"], bad["ref_type"]) == ("error", "bad_credentials", "sign_in")
    welcome = await console.ask("sign_in", "welcome", name="alice", password=PASSWORD)
    assert welcome["agent"]["agent_id"] == alice.agent_id
    assert welcome["agent"]["languages"] == ["en", "zh-Hans"]
    assert welcome["token"] and welcome["expires_at"] and welcome["chats"] == []
    assert set(welcome["canned_replies"]["greeting"]) == {"en", "zh-Hans", "zh-Hant"}
    assert await agents.presence(client, keys, alice.agent_id) == "available"
    await console.expect("queue")
    await console.close()


async def test_nothing_works_without_a_session(bridge, client, keys) -> None:
    await make_agent(client, keys, "bob")
    console = await connect(bridge)
    for kind, fields in [("presence", {"status": "away"}), ("pick", {"case_id": "CMP-20261123-0001"}),
                         ("sync", {"cursors": {}}), ("sign_out", {})]:
        answer = await console.ask(kind, "never", **fields)
        assert answer["code"] == "not_signed_in", answer
    assert (await console.ask("ping", "pong"))["type"] == "pong"
    assert (await console.ask("resume_session", "welcome", token="not-a-token"))["code"] == "session_expired"
    welcome = await console.ask("sign_in", "welcome", name="bob", password=PASSWORD)
    await client.delete(*[key async for key in client.scan_iter(match=f"{keys.prefix}:agent_session:*")])
    answer = await console.ask("presence", "never", status="away")
    assert answer["code"] == "session_expired"
    assert (await console.ask("presence", "never", status="away"))["code"] == "not_signed_in"
    assert (await console.ask("resume_session", "welcome", token=welcome["token"]))["code"] == "session_expired"
    await console.close()


async def test_sign_out_and_resume(bridge, client, keys) -> None:
    await make_agent(client, keys, "carol")
    console, welcome = await signed_in(bridge, "carol")
    other = await connect(bridge)
    assert (await other.ask("resume_session", "welcome", token=welcome["token"]))["type"] == "welcome"
    await console.send("sign_out")
    assert (await console.ask("presence", "never", status="busy"))["code"] == "not_signed_in"
    assert (await other.ask("presence", "never", status="busy"))["code"] == "session_expired"
    await console.close()
    await other.close()


async def test_bad_frames_get_errors_and_the_socket_stays_up(bridge, client, keys, settings) -> None:
    await make_agent(client, keys, "dave")
    console, _ = await signed_in(bridge, "dave")
    cases = [
        ("{oops", "invalid_json"),
        (b"\xff\xfe\x00", "invalid_encoding"),
        (json.dumps({"v": 1, "type": "message", "conversation_id": "c", "text": "x" * (70 * 1024)}),
         "frame_too_large"),
        (json.dumps({"v": 1, "type": "self_destruct"}), "unknown_type"),
        (json.dumps({"v": 1, "type": "accept"}), "missing_field"),
        (json.dumps({"v": 9, "type": "ping"}), "unsupported_version"),
        (json.dumps({"v": 1, "type": "presence", "status": "asleep"}), "invalid_field"),
        (json.dumps([1, 2, 3]), "invalid_json"),
    ]
    for raw, code in cases:
        await console.ws.send(raw)
        error = await console.expect("error")
        assert error["code"] == code, (raw[:40], error)
        assert (await console.ask("ping", "pong"))["type"] == "pong"
    await console.close()


# --- offers and taking cases ---


async def test_case_is_offered_to_the_matching_agent_only(bridge, client, keys) -> None:
    await make_agent(client, keys, "english", languages=("en",), skills=("billing",))
    cantonese = await make_agent(client, keys, "cantonese", languages=("zh-Hant",), skills=("refund",))
    en_console, _ = await signed_in(bridge, "english")
    hk_console, _ = await signed_in(bridge, "cantonese")
    entry = await make_case(client, keys, 1, language="zh-Hant", category="refund", transcript=("退款未到",))
    offer = await hk_console.expect("offer")
    assert offer["case"]["case_id"] == entry.case_id and offer["expires_at"]
    assert offer["case"]["language"] == "zh-Hant" and offer["case"]["transcript"][0]["text"] == "退款未到"
    assert (await ownership.current(client, keys, entry.conversation_id)).agent_id == cantonese.agent_id
    assert await en_console.collect("offer", 1.0) == []
    await en_console.close()
    await hk_console.close()


async def test_offer_timeout_moves_to_the_next_agent(bridge, client, keys) -> None:
    await make_agent(client, keys, "first")
    await make_agent(client, keys, "second")
    first, _ = await signed_in(bridge, "first")
    second, _ = await signed_in(bridge, "second")
    entry = await make_case(client, keys, 2)
    consoles = {"first": first, "second": second}
    owner = await _wait_offered(client, keys, entry)
    offered_to = "first" if owner == (await agents.agent_id_by_name(client, keys, "first")) else "second"
    other = "second" if offered_to == "first" else "first"
    await consoles[offered_to].expect("offer")
    withdrawn = await consoles[offered_to].expect("offer_withdrawn", timeout=5)
    assert withdrawn == {"v": 1, "type": "offer_withdrawn", "case_id": entry.case_id, "reason": "timeout"}
    await consoles[other].expect("offer", where=lambda f: f["case"]["case_id"] == entry.case_id)
    await first.close()
    await second.close()


async def _wait_offered(client, keys, entry: QueueEntry) -> str:
    async def offered() -> bool:
        return (await ownership.current(client, keys, entry.conversation_id)).state == ownership.OFFERED

    await eventually(offered)
    agent_id = (await ownership.current(client, keys, entry.conversation_id)).agent_id
    assert agent_id
    return agent_id


async def test_decline_moves_the_offer_on(bridge, client, keys, settings) -> None:
    slow = replace(settings, offer_timeout_s=30)
    bridge.settings = bridge.casework.settings = slow
    amy = await make_agent(client, keys, "amy")
    await make_agent(client, keys, "ben")
    amy_console, _ = await signed_in(bridge, "amy")
    entry = await make_case(client, keys, 3)
    await amy_console.expect("offer")
    ben_console, _ = await signed_in(bridge, "ben")
    await amy_console.send("decline", case_id=entry.case_id)
    withdrawn = await amy_console.expect("offer_withdrawn")
    assert withdrawn["reason"] == "declined"
    offer = await ben_console.expect("offer")
    assert offer["case"]["case_id"] == entry.case_id
    assert amy.agent_id in await client.smembers(keys.declined(entry.case_id))
    again = await amy_console.ask("accept", "assigned", case_id=entry.case_id)
    assert again["code"] == "not_found"
    await amy_console.close()
    await ben_console.close()


async def test_accept_assigns_the_enriched_case_and_tells_the_customer(bridge, client, keys) -> None:
    agent = await make_agent(client, keys, "erin", languages=("zh-Hans", "en"))
    console, _ = await signed_in(bridge, "erin")
    entry = await make_case(client, keys, 4, language="zh-Hans", transcript=("账单错了", "多扣了两百"))
    assigned = await take(console, entry)
    case = assigned["case"]
    assert case["case_id"] == entry.case_id and case["conversation_id"] == entry.conversation_id
    assert case["fields"]["order_ref"] == "ZZ555666" and case["customer"]["value_tier"] == "gold"
    assert case["customer"]["contact"] == "+85291234567"
    assert case["reasons"] == ["customer_request"] and case["frustration"] == [0.1, 0.6]
    assert case["summary"] == f"summary of {entry.case_id}" and case["priority"] == 50
    assert [row["text"] for row in case["transcript"]][:2] == ["账单错了", "多扣了两百"]
    assert case["transcript"][-1]["author"] == "system"
    state = await ownership.current(client, keys, entry.conversation_id)
    assert (state.state, state.agent_id) == (ownership.AGENT, agent.agent_id)
    assert await handoff_queue.holder(client, keys, entry.case_id) == agent.agent_id
    assert entry.case_id in await client.smembers(keys.agent_load(agent.agent_id))
    log = await conversation_log.read_after(client, keys, entry.conversation_id)
    assert (log[-1].author, log[-1].kind, log[-1].text) == ("system", "agent_joined", "erin 已加入对话。")
    assert await console.collect("assigned", 1.5) == []  # announced once
    await console.close()


async def test_pick_race_only_one_wins(bridge, client, keys) -> None:
    for n in range(5):
        await make_agent(client, keys, f"racer{n}")
    consoles = [(await signed_in(bridge, f"racer{n}"))[0] for n in range(5)]
    entry = await make_case(client, keys, 5)
    answers = await asyncio.gather(*(c.ask("pick", "assigned", case_id=entry.case_id) for c in consoles))
    kinds = sorted(answer["type"] for answer in answers)
    assert kinds == ["assigned", "error", "error", "error", "error"], answers
    assert {answer["code"] for answer in answers if answer["type"] == "error"} == {"already_taken"}
    assert (await ownership.current(client, keys, entry.conversation_id)).state == ownership.AGENT
    assert await handoff_queue.position(client, keys, entry.case_id) is None
    for console in consoles:
        await console.close()


# --- the chat ---


async def test_agent_message_goes_to_the_log_and_is_echoed(bridge, client, keys) -> None:
    agent = await make_agent(client, keys, "fay")
    console, _ = await signed_in(bridge, "fay")
    entry = await make_case(client, keys, 6)
    await take(console, entry)
    echo = await console.ask("message", "message", conversation_id=entry.conversation_id,
                             text="Let me check that.", client_id="tmp-1")
    assert (echo["author"], echo["text"], echo["client_id"]) == ("agent", "Let me check that.", "tmp-1")
    last = (await conversation_log.read_after(client, keys, entry.conversation_id))[-1]
    assert (last.id, last.author, last.text) == (echo["id"], "agent", "Let me check that.")
    assert last.extra["agent_name"] == "fay" and last.extra["agent_id"] == agent.agent_id
    assert await console.collect("message", 1.5) == []  # not relayed back a second time
    other = await make_case(client, keys, 7)
    denied = await console.ask("message", "message", conversation_id=other.conversation_id, text="hi")
    assert denied["code"] == "not_yours"
    await console.send("typing", conversation_id=entry.conversation_id, on=True)
    await eventually(lambda: conversation_log.is_typing(client, keys, entry.conversation_id, "agent"))
    await console.close()


async def test_customer_messages_arrive_once_in_order(bridge, client, keys) -> None:
    await make_agent(client, keys, "gus")
    console, _ = await signed_in(bridge, "gus")
    entry = await make_case(client, keys, 8)
    await take(console, entry)
    ids = []
    for n in range(6):
        author = "bot" if n == 3 else "customer"
        ids.append(await conversation_log.append(client, keys, entry.conversation_id, author, f"msg {n}"))
    got = [f for f in await console.collect("message", 2.5) if f["conversation_id"] == entry.conversation_id]
    assert [f["id"] for f in got] == ids
    assert [f["text"] for f in got] == [f"msg {n}" for n in range(6)]
    assert got[3]["author"] == "bot"
    await conversation_log.set_typing(client, keys, entry.conversation_id, "customer", True)
    typing = await console.expect("typing")
    assert (typing["party"], typing["on"], typing["conversation_id"]) == ("customer", True, entry.conversation_id)
    await console.close()


async def test_reconnect_with_resume_and_sync_gets_exactly_the_missed(bridge, client, keys) -> None:
    await make_agent(client, keys, "hal")
    console, welcome = await signed_in(bridge, "hal")
    entry = await make_case(client, keys, 9)
    await take(console, entry)
    seen = await conversation_log.append(client, keys, entry.conversation_id, "customer", "before")
    assert (await console.expect("message"))["id"] == seen
    await console.close()
    missed = [await conversation_log.append(client, keys, entry.conversation_id, "customer", f"missed {n}")
              for n in range(3)]
    again = await connect(bridge)
    back = await again.ask("resume_session", "welcome", token=welcome["token"])
    assert [chat["case_id"] for chat in back["chats"]] == [entry.case_id]
    await again.send("sync", cursors={entry.conversation_id: seen})
    replayed = [f for f in await again.collect("message", 2.0) if f["conversation_id"] == entry.conversation_id]
    assert [f["id"] for f in replayed] == missed
    after = await conversation_log.append(client, keys, entry.conversation_id, "customer", "after")
    assert (await again.expect("message"))["id"] == after
    assert (await ownership.current(client, keys, entry.conversation_id)).state == ownership.AGENT
    stranger = await again.ask("sync", "never", cursors={"web-unknown": "0-0"})
    assert stranger["code"] == "not_yours"
    await again.close()


# --- finishing ---


async def test_resolve_closes_the_case(bridge, client, keys) -> None:
    agent = await make_agent(client, keys, "ida", languages=("zh-Hant",))
    console, _ = await signed_in(bridge, "ida")
    entry = await make_case(client, keys, 10, language="zh-Hant")
    await take(console, entry)
    await console.send("resolve", case_id=entry.case_id, resolution_code="resolved_refund", note="refunded")
    closed = await console.expect("case_closed")
    assert (closed["case_id"], closed["how"]) == (entry.case_id, "resolved")
    assert (await ownership.current(client, keys, entry.conversation_id)).state == ownership.CLOSED
    case = await client.hgetall(keys.case(entry.case_id))
    assert (case["status"], case["resolution_code"], case["resolution_note"]) == ("resolved", "resolved_refund",
                                                                                  "refunded")
    assert case["resolved_by"] == agent.agent_id and case["resolved_at"]
    assert await client.scard(keys.agent_load(agent.agent_id)) == 0
    assert await handoff_queue.holder(client, keys, entry.case_id) is None
    assert await client.llen(keys.handle_times()) == 1
    last = (await conversation_log.read_after(client, keys, entry.conversation_id))[-1]
    assert (last.kind, last.text) == ("resolved", f"個案 {entry.case_id} 已解決。")
    again = await console.ask("resolve", "never", case_id=entry.case_id, resolution_code="duplicate")
    assert again["code"] in ("not_found", "not_yours")
    await console.close()


async def test_hand_back_asks_for_a_rating(bridge, client, keys) -> None:
    agent = await make_agent(client, keys, "jon")
    console, _ = await signed_in(bridge, "jon")
    entry = await make_case(client, keys, 11)
    await take(console, entry)
    await console.send("hand_back", case_id=entry.case_id, note="bot can finish")
    assert (await console.expect("case_closed"))["how"] == "handed_back"
    assert (await ownership.current(client, keys, entry.conversation_id)).state == ownership.HANDED_BACK
    assert (await client.hget(keys.case(entry.case_id), "status")) == "handed_back"
    assert await client.scard(keys.agent_load(agent.agent_id)) == 0
    tail = (await conversation_log.read_after(client, keys, entry.conversation_id))[-2:]
    assert [(e.kind, e.text) for e in tail] == [("handed_back", "You are back with the assistant."),
                                                ("csat_request", "How did we do?")]
    assert json.loads(tail[1].extra["buttons"])[0] == {"title": "5", "payload": '/rate{"score": 5}'}
    await console.close()


async def test_transfer_to_queue_keeps_place(bridge, client, keys) -> None:
    await make_agent(client, keys, "kim")
    console, _ = await signed_in(bridge, "kim")
    await console.send("presence", status="away")  # no offers; picking still works
    first = await make_case(client, keys, 12, enqueued_at=T0)
    middle = await make_case(client, keys, 13, enqueued_at=T0 + 1)
    last = await make_case(client, keys, 14, enqueued_at=T0 + 2)
    assert (await console.ask("pick", "assigned", case_id=middle.case_id))["type"] == "assigned"
    await console.send("transfer", case_id=middle.case_id, note="needs billing team")
    assert (await console.expect("case_closed"))["how"] == "transferred"
    waiting = [e.case_id for e in await handoff_queue.list_waiting(client, keys)]
    assert waiting == [first.case_id, middle.case_id, last.case_id]
    state = await ownership.current(client, keys, middle.conversation_id)
    assert state.state == ownership.QUEUED and state.extra["note"] == "needs billing team"
    assert (await conversation_log.read_after(client, keys, middle.conversation_id))[-1].kind == "agent_left"
    await console.close()


async def test_transfer_to_another_agent(bridge, client, keys) -> None:
    await make_agent(client, keys, "lea")
    max_ = await make_agent(client, keys, "max")
    lea, _ = await signed_in(bridge, "lea")
    mx, _ = await signed_in(bridge, "max")
    await mx.send("presence", status="busy")
    entry = await make_case(client, keys, 15)
    await eventually(lambda: _owned_by(client, keys, entry, None, ownership.OFFERED))
    await take(lea, entry)
    await lea.send("transfer", case_id=entry.case_id, to_agent_id=max_.agent_id, note="over to you")
    assert (await lea.expect("case_closed"))["how"] == "transferred"
    assigned = await mx.expect("assigned")
    assert assigned["case"]["case_id"] == entry.case_id and assigned["case"]["transfer_note"] == "over to you"
    assert await _owned_by(client, keys, entry, max_.agent_id, ownership.AGENT)
    customer = await conversation_log.append(client, keys, entry.conversation_id, "customer", "still there?")
    assert (await mx.expect("message"))["id"] == customer
    await lea.close()
    await mx.close()


async def _owned_by(client, keys, entry, agent_id, state) -> bool:
    current = await ownership.current(client, keys, entry.conversation_id)
    return current.state == state and (agent_id is None or current.agent_id == agent_id)


# --- presence, disconnects, restarts ---


async def test_presence_away_keeps_chats_and_stops_offers(bridge, client, keys) -> None:
    agent = await make_agent(client, keys, "ned")
    console, _ = await signed_in(bridge, "ned")
    entry = await make_case(client, keys, 16)
    await take(console, entry)
    await console.send("presence", status="away")
    await eventually(lambda: _presence_is(client, keys, agent.agent_id, "away"))
    second = await make_case(client, keys, 17)
    assert await console.collect("offer", 1.5) == []
    assert await _owned_by(client, keys, entry, agent.agent_id, ownership.AGENT)
    assert await handoff_queue.position(client, keys, second.case_id) == 1
    await console.send("presence", status="available")
    await console.expect("offer", where=lambda f: f["case"]["case_id"] == second.case_id)
    await console.close()


async def _presence_is(client, keys, agent_id, state) -> bool:
    return await agents.presence(client, keys, agent_id) == state


async def test_disconnect_returns_chats_to_the_queue_after_grace(bridge, client, keys) -> None:
    agent = await make_agent(client, keys, "olga")
    console, _ = await signed_in(bridge, "olga")
    await console.send("presence", status="busy")
    before = await make_case(client, keys, 18, enqueued_at=T0)
    mine = await make_case(client, keys, 19, enqueued_at=T0 + 1)
    after = await make_case(client, keys, 20, enqueued_at=T0 + 2)
    assert (await console.ask("pick", "assigned", case_id=mine.case_id))["type"] == "assigned"
    await console.close()

    async def requeued() -> bool:
        return await handoff_queue.position(client, keys, mine.case_id) is not None

    await eventually(requeued, timeout=8)
    assert [e.case_id for e in await handoff_queue.list_waiting(client, keys)] == [
        before.case_id, mine.case_id, after.case_id]
    assert (await ownership.current(client, keys, mine.conversation_id)).state == ownership.QUEUED
    assert await client.scard(keys.agent_load(agent.agent_id)) == 0
    assert (await conversation_log.read_after(client, keys, mine.conversation_id))[-1].kind == "agent_left"


async def test_quick_reconnect_keeps_chats(bridge, client, keys, settings) -> None:
    bridge.settings = replace(settings, reconnect_grace_s=3)
    agent = await make_agent(client, keys, "pat")
    console, welcome = await signed_in(bridge, "pat")
    entry = await make_case(client, keys, 21)
    await take(console, entry)
    await console.close()
    await asyncio.sleep(0.5)
    again = await connect(bridge)
    assert (await again.ask("resume_session", "welcome", token=welcome["token"]))["chats"][0]["case_id"] == (
        entry.case_id)
    await asyncio.sleep(3.5)
    assert await _owned_by(client, keys, entry, agent.agent_id, ownership.AGENT)
    await again.close()


async def test_bridge_restart_in_the_middle_of_a_chat(settings, options, client, keys) -> None:
    agent = await make_agent(client, keys, "quinn")
    restart_settings = replace(settings, reconnect_grace_s=30)
    async with running_bridge(restart_settings, **options) as first:
        console, welcome = await signed_in(first, "quinn")
        entry = await make_case(client, keys, 22)
        await take(console, entry)
        echo = await console.ask("message", "message", conversation_id=entry.conversation_id, text="Checking now")
        last_seen = echo["id"]
    # The first bridge is gone; the customer keeps writing.
    during = [await conversation_log.append(client, keys, entry.conversation_id, "customer", f"hello? {n}")
              for n in range(2)]
    async with running_bridge(restart_settings, **options) as second:
        again = await connect(second)
        back = await again.ask("resume_session", "welcome", token=welcome["token"])
        assert back["type"] == "welcome" and [c["case_id"] for c in back["chats"]] == [entry.case_id]
        await again.send("sync", cursors={entry.conversation_id: last_seen})
        replayed = [f for f in await again.collect("message", 2.0) if f["conversation_id"] == entry.conversation_id]
        assert [f["id"] for f in replayed] == during
        echo = await again.ask("message", "message", conversation_id=entry.conversation_id, text="Sorry, back")
        assert echo["type"] == "message"
        assert await _owned_by(client, keys, entry, agent.agent_id, ownership.AGENT)
        texts = [e.text for e in await conversation_log.read_after(client, keys, entry.conversation_id)]
        assert texts[-4:] == ["Checking now", "hello? 0", "hello? 1", "Sorry, back"]
        await again.close()


# --- views ---


async def test_queue_view_callbacks_and_supervisor_agents(bridge, client, keys) -> None:
    await make_agent(client, keys, "sue", role="supervisor")
    now = time.time()
    for n, due, status in [(30, now - 600, "promised"), (31, now + 600, "promised"), (32, now - 60, "done")]:
        case_id = f"CMP-20261123-{n:04d}"
        await client.zadd(keys.callbacks(), {case_id: due})
        await client.hset(keys.callback(case_id), mapping={"due_at": str(due), "contact": "+8613800000000",
                                                             "language": "zh-Hans", "status": status})
    console, _ = await signed_in(bridge, "sue")
    await console.send("presence", status="away")
    callbacks = await console.expect("callbacks")
    assert [(row["case_id"], row["overdue"]) for row in callbacks["due"]] == [
        ("CMP-20261123-0030", True), ("CMP-20261123-0031", False)]
    roster = await console.expect("agents")
    assert roster["agents"][0]["name"] == "sue" and roster["agents"][0]["max_chats"] == 3
    entry = await make_case(client, keys, 23)
    view = await console.expect("queue", where=lambda f: bool(f["waiting"]))
    row = view["waiting"][0]
    assert (row["case_id"], row["conversation_id"], row["summary"]) == (
        entry.case_id, entry.conversation_id, f"summary of {entry.case_id}")
    await console.send("callback_done", case_id="CMP-20261123-0030", note="called")
    # The answer is a fresh `callbacks` list (a periodic one may come just before it).
    await console.expect("callbacks", where=lambda f: [r["case_id"] for r in f["due"]] == ["CMP-20261123-0031"])
    assert await client.hget(keys.callback("CMP-20261123-0030"), "status") == "done"
    missing = await console.ask("callback_done", "never", case_id="CMP-20261123-0099")
    assert missing["code"] == "not_found"
    await console.close()


async def test_waiting_customers_are_told_when_the_queue_moves(settings, options, client, keys) -> None:
    """With no agent online, the second customer hears their new place when the first leaves."""
    real_notices = Path(__file__).resolve().parents[2] / "bot" / "domain" / "responses" / "handoff.yml"
    async with running_bridge(settings, **{**options, "responses_path": real_notices}) as bridge:
        await _queue_moves(bridge, client, keys)


async def _queue_moves(bridge: Bridge, client, keys) -> None:
    first = await make_case(client, keys, 901, language="zh-Hans", enqueued_at=time.time() - 60)
    second = await make_case(client, keys, 902, language="zh-Hant", enqueued_at=time.time() - 30)
    await bridge.tell_queue_positions()  # the places the customers were told by the assistant
    assert [e.kind for e in await conversation_log.read_after(client, keys, second.conversation_id)] == ["message"]

    assert await handoff_queue.cancel(client, keys, first.case_id)
    await bridge.tell_queue_positions()
    notices = [
        e for e in await conversation_log.read_after(client, keys, second.conversation_id) if e.author == "system"
    ]
    assert len(notices) == 1 and notices[0].kind == "queue_position"
    assert "第 1 位" in notices[0].text and "分鐘" in notices[0].text, notices[0].text

    await bridge.tell_queue_positions()  # nothing moved: nothing more to say
    assert len([e for e in await conversation_log.read_after(client, keys, second.conversation_id)
                if e.author == "system"]) == 1
