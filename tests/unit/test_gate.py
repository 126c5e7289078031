"""The handoff gate on a real Redis: who gets a customer message, and what lands in the log."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot import gate as gate_module
from bot.channels.rest import SafeRestInput
from bot.gate import HandoffGate
from handoff import conversation_log, ownership
from handoff.keys import Keys


class FakeRasa:
    """Stands in for Rasa's on_new_message: records calls and answers with one bot message."""

    def __init__(self) -> None:
        self.calls: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.calls.append(message)
        await message.output_channel.send_response(
            message.sender_id,
            {"text": "How can I help?", "buttons": [{"title": "Refund", "payload": "/faq_refund_policy"}]},
        )


@pytest_asyncio.fixture
async def parts(redis_env: Dict[str, str]):
    client = aioredis.from_url(redis_env["url"], decode_responses=True)
    try:
        yield client, Keys(redis_env["prefix"])
    finally:
        await client.close()
        await client.connection_pool.disconnect()


def customer_message(sender: str, text: str = "hello") -> UserMessage:
    return UserMessage(text, CollectingOutputChannel(), sender, input_channel="rest")


async def move(client: aioredis.Redis, keys: Keys, sender: str, *states: str) -> None:
    for state in states:
        agent = "agt_1" if state in (ownership.OFFERED, ownership.AGENT) else None
        await ownership.transition(client, keys, sender, state, agent_id=agent, case_id="CMP-20261123-0001")


@pytest.mark.asyncio
async def test_agent_owned_conversation_never_reaches_the_bot(parts, new_sender) -> None:
    client, keys = parts
    sender = new_sender("gate-agent")
    await move(client, keys, sender, ownership.QUEUED, ownership.AGENT)
    rasa = FakeRasa()
    message = customer_message(sender, "are you still there?")
    await HandoffGate(client, keys).wrap(rasa, "rest")(message)
    assert rasa.calls == []
    assert message.output_channel.messages == []
    entries = await conversation_log.read_after(client, keys, sender)
    assert [(e.author, e.text, e.kind, e.extra.get("channel")) for e in entries] == [
        ("customer", "are you still there?", "message", "rest")
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "states",
    [
        (),
        (ownership.QUEUED,),
        (ownership.QUEUED, ownership.OFFERED),
        (ownership.QUEUED, ownership.AGENT, ownership.HANDED_BACK),
    ],
)
async def test_bot_queued_and_handed_back_reach_the_bot_and_replies_are_logged(parts, new_sender, states) -> None:
    client, keys = parts
    sender = new_sender("gate-bot")
    await move(client, keys, sender, *states)
    rasa = FakeRasa()
    collector = CollectingOutputChannel()
    await HandoffGate(client, keys).wrap(rasa, "rest")(UserMessage("hi", collector, sender, input_channel="rest"))
    assert len(rasa.calls) == 1
    assert [reply["text"] for reply in collector.messages] == ["How can I help?"]  # the channel still gets it
    entries = await conversation_log.read_after(client, keys, sender)
    assert [(e.author, e.text) for e in entries] == [("customer", "hi"), ("bot", "How can I help?")]
    assert json.loads(entries[1].extra["buttons"]) == [{"title": "Refund", "payload": "/faq_refund_policy"}]


@pytest.mark.asyncio
async def test_closed_conversation_is_reopened_for_the_bot(parts, new_sender) -> None:
    client, keys = parts
    sender = new_sender("gate-closed")
    await move(client, keys, sender, ownership.QUEUED, ownership.CLOSED)
    rasa = FakeRasa()
    await HandoffGate(client, keys).wrap(rasa, "rest")(customer_message(sender, "one more thing"))
    assert len(rasa.calls) == 1
    assert (await ownership.current(client, keys, sender)).state == ownership.BOT


@pytest.mark.asyncio
async def test_button_payloads_are_logged_as_payloads(parts, new_sender) -> None:
    client, keys = parts
    sender = new_sender("gate-payload")
    await HandoffGate(client, keys).wrap(FakeRasa(), "rest")(customer_message(sender, '/rate{"rating":5}'))
    first = (await conversation_log.read_after(client, keys, sender))[0]
    assert (first.author, first.text, first.kind) == ("customer", '/rate{"rating":5}', "payload")


@pytest.mark.asyncio
async def test_redis_down_still_lets_the_bot_answer(new_sender) -> None:
    dead = aioredis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=0.5)
    rasa = FakeRasa()
    collector = CollectingOutputChannel()
    try:
        await HandoffGate(dead, Keys("nowhere")).wrap(rasa, "rest")(UserMessage("hi", collector, new_sender("down")))
    finally:
        await dead.close()
    assert len(rasa.calls) == 1
    assert [reply["text"] for reply in collector.messages] == ["How can I help?"]


def test_rest_channel_wraps_its_handler_once(monkeypatch) -> None:
    wrapped: List[Any] = []

    class RecordingGate:
        def wrap(self, on_new_message: Any, channel_name: str) -> Any:
            wrapped.append(channel_name)
            return on_new_message

    monkeypatch.setattr("bot.channels.rest.default_gate", lambda: RecordingGate())
    SafeRestInput().blueprint(FakeRasa())
    assert wrapped == ["rest"]


def test_the_default_gate_connects_lazily(monkeypatch) -> None:
    gate_module.default_gate.cache_clear()
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    try:
        gate = gate_module.default_gate()
        assert gate._client is None  # nothing happens until the first message
        client, keys = gate.redis()
        assert keys.prefix and client is gate.redis()[0]
    finally:
        gate_module.default_gate.cache_clear()
