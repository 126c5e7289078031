"""The customer WebSocket channel against the real stack: sessions, replay, dedupe, handoff."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
import websockets
from websockets.exceptions import ConnectionClosed

from handoff import conversation_log, ownership
from handoff.keys import Keys
from tests.support.stack import Stack

COMPLAINT = "My refund for order ZZ555666 was refused last week, I want my money back"
# How long the bot may take to answer one message with the real model and actions.
REPLY_S = 60.0
QUIET_S = 2.5

Frame = Dict[str, Any]


def open_session(stack: Stack, body: Optional[Dict[str, Any]] = None) -> Tuple[int, Dict[str, Any]]:
    """POST /webhooks/webchat/session; (status, JSON body)."""
    request = urllib.request.Request(
        f"{stack.base_url}/webhooks/webchat/session",
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def new_session(stack: Stack) -> Tuple[str, str]:
    """(token, conversation_id) of a new conversation."""
    status, body = open_session(stack)
    assert status == 200, body
    return body["token"], body["conversation_id"]


def socket_url(stack: Stack, token: str) -> str:
    """The widget's WebSocket URL for a token."""
    return f"ws://127.0.0.1:{stack.rasa_port}/webhooks/webchat/ws?token={token}"


class Widget:
    """A test stand-in for the web widget: one socket, every frame it received."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.received: List[Frame] = []

    async def send(self, **frame: Any) -> None:
        """Send one JSON frame."""
        await self.socket.send(json.dumps(frame, ensure_ascii=False))

    async def say(self, text: str, client_id: Optional[str] = None) -> str:
        """Send a customer message; its client_id."""
        client_id = client_id or uuid.uuid4().hex[:12]
        await self.send(type="message", text=text, client_id=client_id)
        return client_id

    async def next(self, timeout: float = 10.0) -> Frame:
        """The next frame (decoded)."""
        frame = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        self.received.append(frame)
        return frame

    async def until(self, wanted: Callable[[Frame], bool], timeout: float = REPLY_S) -> Frame:
        """Read frames until one matches; fail after `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, f"no matching frame within {timeout} s; got {self.received}"
            frame = await self.next(left)
            if wanted(frame):
                return frame

    async def quiet(self, seconds: float = QUIET_S) -> List[Frame]:
        """Every frame until none came for `seconds`."""
        frames: List[Frame] = []
        while True:
            try:
                frames.append(await self.next(seconds))
            except asyncio.TimeoutError:
                return frames

    def messages(self) -> List[Frame]:
        """The `message` frames received so far, in order."""
        return [frame for frame in self.received if frame["type"] == "message"]


async def connect(stack: Stack, token: str, last_id: Optional[str] = "0-0") -> Widget:
    """Open a socket and send `resume` (unless last_id is None)."""
    widget = Widget(await websockets.connect(socket_url(stack, token), open_timeout=20))
    if last_id is not None:
        await widget.send(type="resume", last_id=last_id)
    return widget


def is_bot(frame: Frame) -> bool:
    """A bot reply."""
    return frame["type"] == "message" and frame["author"] == "bot"


def echo_of(client_id: str, text: str) -> Callable[[Frame], bool]:
    """Matches the log echo of the customer's own message."""
    return lambda frame: (
        frame["type"] == "message" and frame["author"] == "customer" and frame["text"] == text.strip()
        and frame.get("client_id") == client_id
    )


@pytest_asyncio.fixture
async def redis_client(stack: Stack) -> AsyncIterator[aioredis.Redis]:
    """An async client on the stack's Redis, bound to this test's loop."""
    client = aioredis.from_url(stack.redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.close()
        await client.connection_pool.disconnect()


@pytest.fixture
def keys(stack: Stack) -> Keys:
    """Key names under the stack's prefix."""
    return Keys(stack.prefix)


async def log_of(client: aioredis.Redis, keys: Keys, conversation_id: str) -> List[conversation_log.LogEntry]:
    """The whole conversation log."""
    return await conversation_log.read_after(client, keys, conversation_id, "0-0", count=1000)


async def test_a_complaint_over_the_socket(stack: Stack, redis_client: aioredis.Redis, keys: Keys) -> None:
    """State first, then the ack, the echo and the bot's replies, in log order, each once."""
    token, conversation_id = new_session(stack)
    widget = await connect(stack, token)
    try:
        assert await widget.next() == {"type": "state", "owner": "bot"}
        client_id = await widget.say(COMPLAINT)
        ack = await widget.until(lambda frame: frame["type"] == "ack")
        assert ack["client_id"] == client_id and not ack.get("duplicate")
        echo = await widget.until(echo_of(client_id, COMPLAINT))
        await widget.until(is_bot)
        await widget.quiet()
    finally:
        await widget.socket.close()
    messages = widget.messages()
    ids = [frame["id"] for frame in messages]
    assert ids[0] == echo["id"], "the customer's echo comes before the replies"
    assert len(ids) == len(set(ids)), "no entry twice"
    assert [entry.id for entry in await log_of(redis_client, keys, conversation_id)] == ids, "exactly the log"
    replies = [frame for frame in messages if frame["author"] == "bot"]
    assert replies and all(frame["text"] or frame.get("buttons") for frame in replies)
    assert all(frame["at"].endswith("+00:00") for frame in messages)


async def test_a_reconnect_replays_exactly_what_was_missed(
    stack: Stack, redis_client: aioredis.Redis, keys: Keys
) -> None:
    """Drop the socket while the bot is answering; resume from the last id seen gets the rest, once."""
    token, conversation_id = new_session(stack)
    widget = await connect(stack, token)
    client_id = await widget.say(COMPLAINT)
    echo = await widget.until(echo_of(client_id, COMPLAINT))
    await widget.socket.close()  # the bot is still working on its reply
    bot_entries: List[conversation_log.LogEntry] = []
    for _ in range(int(REPLY_S * 2)):
        entries = await log_of(redis_client, keys, conversation_id)
        bot_entries = [entry for entry in entries if entry.author == "bot"]
        if bot_entries:
            break
        await asyncio.sleep(0.5)
    assert bot_entries, "the bot answered although the socket was gone"

    again = await connect(stack, token, last_id=echo["id"])
    try:
        await again.quiet()
    finally:
        await again.socket.close()
    replayed = [frame["id"] for frame in again.messages()]
    missed = [entry.id for entry in await conversation_log.read_after(redis_client, keys, conversation_id, echo["id"])]
    assert replayed == missed, "every entry after the last one seen, in order, none twice"
    assert echo["id"] not in replayed and set(bot_entry.id for bot_entry in bot_entries) <= set(replayed)


async def test_a_resent_message_is_processed_once(stack: Stack, redis_client: aioredis.Redis, keys: Keys) -> None:
    """The same client_id again, on the same or a new socket, is acknowledged as a duplicate only."""
    token, conversation_id = new_session(stack)
    widget = await connect(stack, token)
    text = "I want to complain about a late delivery"
    try:
        client_id = await widget.say(text)
        await widget.until(is_bot)
        await widget.quiet()
        await widget.say(text, client_id)
        duplicate = await widget.until(lambda frame: frame["type"] == "ack")
        assert duplicate == {"type": "ack", "client_id": client_id, "id": None, "duplicate": True}
    finally:
        await widget.socket.close()
    last_seen = widget.messages()[-1]["id"]
    again = await connect(stack, token, last_id=last_seen)
    try:
        await again.say(text, client_id)
        assert (await again.until(lambda frame: frame["type"] == "ack"))["duplicate"] is True
        assert not [frame for frame in await again.quiet() if frame["type"] == "message"]
    finally:
        await again.socket.close()
    entries = await log_of(redis_client, keys, conversation_id)
    assert [entry.text for entry in entries if entry.author == "customer"] == [text]


async def test_an_invalid_token_is_refused(stack: Stack) -> None:
    """A forged or garbled token closes the socket with 4401; POST /session answers 401."""
    token, _ = new_session(stack)
    body, signature = token.split(".")
    for bad in ["", "garbage", f"{body}.{signature[::-1]}"]:
        socket = await websockets.connect(socket_url(stack, bad), open_timeout=20)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert "invalid session token" in closed.value.rcvd.reason
    status, answer = open_session(stack, {"token": f"{body}.{signature[::-1]}"})
    assert status == 401 and answer["error"] == "invalid_token" and answer["reason"] == "bad_signature"


async def test_an_old_token_resumes_the_same_conversation(stack: Stack) -> None:
    """POST /session with a valid token gives a fresh token for the same conversation."""
    token, conversation_id = new_session(stack)
    status, answer = open_session(stack, {"token": token})
    assert status == 200 and answer["conversation_id"] == conversation_id
    assert new_session(stack)[1] != conversation_id


async def test_bad_frames_get_errors_and_the_socket_stays_up(stack: Stack) -> None:
    """Malformed JSON, an unknown type and a bad field each get an error frame; ping still works."""
    token, _ = new_session(stack)
    widget = await connect(stack, token)
    try:
        assert (await widget.next())["type"] == "state"
        await widget.socket.send("{not json")
        assert (await widget.next())["code"] == "invalid_json"
        await widget.send(type="shout", text="hi")
        assert (await widget.next())["code"] == "unknown_type"
        await widget.send(type="message", text="", client_id="x")
        assert (await widget.next())["code"] == "invalid_field"
        await widget.send(type="message", text="x" * 5000, client_id="x")
        assert (await widget.next())["code"] == "text_too_long"
        await widget.socket.send("x" * 20000)
        assert (await widget.next())["code"] == "frame_too_large"
        await widget.send(type="ping")
        assert await widget.next() == {"type": "pong"}
    finally:
        await widget.socket.close()


async def test_a_message_before_resume_replays_from_the_start(stack: Stack) -> None:
    """Without `resume` first, the whole log is replayed, then the message is handled."""
    token, _ = new_session(stack)
    widget = await connect(stack, token, last_id=None)
    try:
        client_id = await widget.say("hello")
        await widget.until(echo_of(client_id, "hello"))
        await widget.until(is_bot)
    finally:
        await widget.socket.close()


async def test_customers_only_read_their_own_conversation(
    stack: Stack, redis_client: aioredis.Redis, keys: Keys
) -> None:
    """Another customer's session is another conversation; its socket sees none of this one."""
    token_a, conversation_a = new_session(stack)
    token_b, conversation_b = new_session(stack)
    assert conversation_a != conversation_b
    await conversation_log.append(redis_client, keys, conversation_a, "customer", "private to A")
    widget = await connect(stack, token_b)
    try:
        frames = await widget.quiet()
    finally:
        await widget.socket.close()
    assert frames == [{"type": "state", "owner": "bot"}]


async def test_with_an_agent_the_bot_stays_out(stack: Stack, redis_client: aioredis.Redis, keys: Keys) -> None:
    """Owner agent: the customer's message is logged, the bot says nothing, the agent's words arrive."""
    token, conversation_id = new_session(stack)
    widget = await connect(stack, token)
    try:
        assert await widget.next() == {"type": "state", "owner": "bot"}
        await ownership.transition(redis_client, keys, conversation_id, ownership.QUEUED)
        assert await widget.until(lambda frame: frame["type"] == "state", 10) == {"type": "state", "owner": "queued"}
        await ownership.transition(redis_client, keys, conversation_id, ownership.AGENT, agent_id="agent-7")
        assert await widget.until(lambda frame: frame["type"] == "state", 10) == {"type": "state", "owner": "agent"}

        client_id = await widget.say("Is anyone there?")
        await widget.until(echo_of(client_id, "Is anyone there?"))
        assert not [frame for frame in await widget.quiet(4.0) if is_bot(frame)], "the bot must stay out"

        await conversation_log.set_typing(redis_client, keys, conversation_id, "agent", True)
        assert await widget.until(lambda frame: frame["type"] == "typing", 10) == {
            "type": "typing", "party": "agent", "on": True
        }
        await widget.send(type="typing", on=True)
        await asyncio.sleep(0.5)
        assert await conversation_log.is_typing(redis_client, keys, conversation_id, "customer")

        agent_words = "Hi, I'm Mei. Let me look."
        agent_id = await conversation_log.append(redis_client, keys, conversation_id, "agent", agent_words)
        pushed = await widget.until(lambda frame: frame["type"] == "message" and frame["author"] == "agent", 10)
        assert (pushed["id"], pushed["text"]) == (agent_id, "Hi, I'm Mei. Let me look.")
    finally:
        await widget.socket.close()
    entries = await log_of(redis_client, keys, conversation_id)
    assert [(entry.author, entry.text) for entry in entries] == [
        ("customer", "Is anyone there?"),
        ("agent", "Hi, I'm Mei. Let me look."),
    ]
