"""The owner state machine in a real Redis: allowed moves, refused moves, typing, races."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from typing import Dict, List, Tuple

import pytest

from handoff import conversation_log, ownership
from handoff.keys import Keys
from handoff.ownership import (
    AGENT,
    ALLOWED,
    BOT,
    CLOSED,
    OFFERED,
    QUEUED,
    STATES,
    TransitionRefused,
)

ALLOWED_PAIRS = [(source, target) for source in STATES for target in sorted(ALLOWED[source])]
REFUSED_PAIRS = [(source, target) for source in STATES for target in STATES if target not in ALLOWED[source]]


def _path_to(state: str) -> List[str]:
    """The shortest list of moves from a fresh (bot) conversation to `state`."""
    paths: Dict[str, List[str]] = {BOT: []}
    todo = deque([BOT])
    while todo:
        source = todo.popleft()
        for target in sorted(ALLOWED[source]):
            if target not in paths:
                paths[target] = [*paths[source], target]
                todo.append(target)
    return paths[state]


def _agent_for(state: str) -> Dict[str, str]:
    return {"agent_id": "agt_one"} if state in (OFFERED, AGENT) else {}


async def _conversation_in(client, keys: Keys, state: str) -> str:
    conversation = "c-" + uuid.uuid4().hex[:8]
    for step in _path_to(state):
        await ownership.transition(client, keys, conversation, step, case_id="CMP-1", **_agent_for(step))
    assert (await ownership.current(client, keys, conversation)).state == state
    return conversation


def test_every_state_is_reachable_and_has_a_way_out() -> None:
    for state in STATES:
        assert _path_to(state) is not None
        assert ALLOWED[state], state


def test_the_table_is_the_documented_one() -> None:
    documented = {
        "bot": {"queued"},
        "queued": {"offered", "agent", "bot", "closed"},
        "offered": {"agent", "queued", "bot"},
        "agent": {"agent", "queued", "handed_back", "closed"},
        "handed_back": {"bot", "queued"},
        "closed": {"bot", "queued"},
    }
    assert documented == ALLOWED


@pytest.mark.asyncio
async def test_a_new_conversation_belongs_to_the_bot(client, keys) -> None:
    state = await ownership.current(client, keys, "never-seen")
    assert (state.state, state.agent_id, state.case_id, state.version) == (BOT, None, None, 0)


@pytest.mark.asyncio
@pytest.mark.parametrize(("source", "target"), ALLOWED_PAIRS)
async def test_allowed_transition(client, keys, source: str, target: str) -> None:
    conversation = await _conversation_in(client, keys, source)
    before = await ownership.current(client, keys, conversation)
    await conversation_log.set_typing(client, keys, conversation, "customer", True)
    await conversation_log.set_typing(client, keys, conversation, "agent", True)
    agent = {"agent_id": "agt_two"} if target in (OFFERED, AGENT) else {}

    moved = await ownership.transition(
        client, keys, conversation, target, expected_from={source}, reason="test", **agent
    )

    stored = await ownership.current(client, keys, conversation)
    assert moved.state == stored.state == target
    assert stored.version == before.version + 1 == moved.version
    assert stored.case_id == before.case_id == (None if source == BOT else "CMP-1")  # kept when not given
    assert stored.agent_id == ("agt_two" if agent else None)
    assert stored.extra == {"reason": "test"}
    assert stored.updated_at >= before.updated_at
    # Typing indicators never outlive a change of owner.
    assert not await conversation_log.is_typing(client, keys, conversation, "customer")
    assert not await conversation_log.is_typing(client, keys, conversation, "agent")


@pytest.mark.asyncio
@pytest.mark.parametrize(("source", "target"), REFUSED_PAIRS)
async def test_refused_transition_changes_nothing(client, keys, source: str, target: str) -> None:
    conversation = await _conversation_in(client, keys, source)
    await conversation_log.set_typing(client, keys, conversation, "customer", True)
    raw_before = await client.hgetall(keys.owner(conversation))

    with pytest.raises(TransitionRefused) as refused:
        await ownership.transition(client, keys, conversation, target, **_agent_for(target))

    assert (refused.value.current, refused.value.wanted) == (source, target)
    assert await client.hgetall(keys.owner(conversation)) == raw_before
    assert await conversation_log.is_typing(client, keys, conversation, "customer")


@pytest.mark.asyncio
async def test_expected_from_is_enforced(client, keys) -> None:
    conversation = await _conversation_in(client, keys, AGENT)
    raw_before = await client.hgetall(keys.owner(conversation))
    with pytest.raises(TransitionRefused):
        # agent -> agent is allowed in the table, but this caller only takes queued cases.
        await ownership.transition(client, keys, conversation, AGENT, expected_from={QUEUED}, agent_id="agt_x")
    assert await client.hgetall(keys.owner(conversation)) == raw_before


@pytest.mark.asyncio
async def test_bad_calls_are_refused_before_touching_redis(client, keys) -> None:
    with pytest.raises(ValueError):
        await ownership.transition(client, keys, "c", "nowhere")
    with pytest.raises(ValueError):
        await ownership.transition(client, keys, "c", QUEUED, version="9")
    conversation = await _conversation_in(client, keys, QUEUED)
    with pytest.raises(ValueError):
        await ownership.transition(client, keys, conversation, AGENT)  # no agent named
    assert (await ownership.current(client, keys, conversation)).state == QUEUED


@pytest.mark.asyncio
async def test_agent_is_cleared_when_the_agent_leaves(client, keys) -> None:
    conversation = await _conversation_in(client, keys, AGENT)
    assert (await ownership.current(client, keys, conversation)).agent_id == "agt_one"
    moved = await ownership.transition(client, keys, conversation, "handed_back", case_id="CMP-2")
    assert moved.agent_id is None and moved.case_id == "CMP-2"
    assert (await ownership.current(client, keys, conversation)).agent_id is None


@pytest.mark.asyncio
async def test_only_one_of_twenty_concurrent_claims_wins(client, keys) -> None:
    conversation = await _conversation_in(client, keys, QUEUED)

    async def attempt(number: int) -> Tuple[str, bool]:
        agent_id = f"agt_{number:02d}"
        try:
            await ownership.transition(client, keys, conversation, AGENT, expected_from={QUEUED}, agent_id=agent_id)
            return agent_id, True
        except TransitionRefused as refused:
            assert refused.current == AGENT
            return agent_id, False

    results = await asyncio.gather(*(attempt(number) for number in range(20)))
    winners = [agent_id for agent_id, won in results if won]
    assert len(winners) == 1
    stored = await ownership.current(client, keys, conversation)
    assert stored.agent_id == winners[0]
    assert stored.version == len(_path_to(QUEUED)) + 1


@pytest.mark.asyncio
async def test_a_customer_returning_after_close_starts_with_the_bot(client, keys) -> None:
    conversation = await _conversation_in(client, keys, CLOSED)
    reopened = await ownership.reopen_for_customer(client, keys, conversation)
    assert reopened.state == BOT
    assert reopened.extra == {"reason": "customer_returned"}
    # Anything but closed is left alone.
    queued = await _conversation_in(client, keys, QUEUED)
    assert (await ownership.reopen_for_customer(client, keys, queued)).state == QUEUED
