"""The handoff queue in a real Redis: order, places, claims, transfers, estimates."""

from __future__ import annotations

import itertools

import pytest

from handoff import queue
from handoff.queue import QueueEntry
from handoff.routing import AgentView, can_take

T0 = 1_900_000_000.0  # a fixed enqueue time, so order depends only on what each test sets


def _entry(case_id: str, **fields) -> QueueEntry:
    values = dict(
        case_id=case_id,
        conversation_id=f"conv-{case_id}",
        language="en",
        skills_needed="billing",
        priority=50,
        enqueued_at=T0,
    )
    values.update(fields)
    return QueueEntry(**values)


def _agent(agent_id: str = "agt_a", **fields) -> AgentView:
    values = dict(
        agent_id=agent_id,
        languages=frozenset({"en", "zh-Hans", "zh-Hant"}),
        skills=frozenset({"any"}),
        may_approve_compensation=True,
        max_chats=10,
        presence="available",
    )
    values.update(fields)
    return AgentView(**values)


async def _waiting(client, keys) -> list:
    return [entry.case_id for entry in await queue.list_waiting(client, keys, 100)]


@pytest.mark.asyncio
async def test_emergencies_first_then_priority_then_first_come(client, keys) -> None:
    entries = [
        _entry("low-early", priority=10, enqueued_at=T0),
        _entry("high-late", priority=90, enqueued_at=T0 + 30),
        _entry("mid-1", priority=50, enqueued_at=T0 + 1),
        _entry("mid-2", priority=50, enqueued_at=T0 + 2),
        _entry("mid-3", priority=50, enqueued_at=T0 + 2.001),
        _entry("emergency-low", priority=0, emergency=True, enqueued_at=T0 + 60),
        _entry("emergency-high", priority=100, emergency=True, enqueued_at=T0 + 90),
        _entry("max-late", priority=100, enqueued_at=T0 + 10**6),
    ]
    for entry in reversed(entries):
        assert await queue.enqueue(client, keys, entry)
    assert await _waiting(client, keys) == [
        "emergency-high",
        "emergency-low",
        "max-late",
        "high-late",
        "mid-1",
        "mid-2",
        "mid-3",
        "low-early",
    ]
    assert await queue.position(client, keys, "emergency-high") == 1
    assert await queue.position(client, keys, "low-early") == 8
    assert await queue.position(client, keys, "nope") is None
    assert await queue.waiting_count(client, keys) == 8
    assert await _waiting(client, keys) == [e.case_id for e in await queue.list_waiting(client, keys, 100)]
    assert [e.case_id for e in await queue.list_waiting(client, keys, 2)] == ["emergency-high", "emergency-low"]


def test_scores_keep_bands_apart_and_stay_exact() -> None:
    newest = _entry("x", priority=0, enqueued_at=9_999_999_999.999)  # the year 2286
    oldest_emergency = _entry("y", priority=0, emergency=True, enqueued_at=0)
    best_normal = _entry("z", priority=100, enqueued_at=0)
    assert queue.score(oldest_emergency) < queue.score(best_normal) < queue.score(newest) < 2**53
    with pytest.raises(ValueError):
        _entry("bad", priority=101)


@pytest.mark.asyncio
async def test_list_waiting_gives_the_stored_entries_and_waiting_time(client, keys) -> None:
    entry = _entry("w1", language="zh-Hant", needs_authority=True, emergency=True, priority=77)
    await queue.enqueue(client, keys, entry)
    [listed] = await queue.list_waiting(client, keys, 10)
    assert listed == entry
    assert listed.waiting_seconds(now=T0 + 95) == 95
    assert await queue.list_waiting(client, keys, 0) == []


@pytest.mark.asyncio
async def test_enqueueing_again_keeps_the_place(client, keys) -> None:
    await queue.enqueue(client, keys, _entry("first", enqueued_at=T0))
    await queue.enqueue(client, keys, _entry("second", enqueued_at=T0 + 1))
    # The same case entered again later (a second signal fired) does not lose its place.
    assert await queue.enqueue(client, keys, _entry("first", enqueued_at=T0 + 100))
    assert await _waiting(client, keys) == ["first", "second"]
    assert (await queue.entry(client, keys, "first")).enqueued_at == T0


@pytest.mark.asyncio
async def test_requeue_after_an_agent_leaves_keeps_the_original_place(client, keys) -> None:
    for number in range(4):
        await queue.enqueue(client, keys, _entry(f"case-{number}", enqueued_at=T0 + number))
    assert await queue.claim(client, keys, "case-0", "agt_a")
    await queue.enqueue(client, keys, _entry("case-late", enqueued_at=T0 + 500))
    assert await _waiting(client, keys) == ["case-1", "case-2", "case-3", "case-late"]

    # A case held by someone cannot be enqueued twice, and only its holder can give it back.
    assert not await queue.enqueue(client, keys, _entry("case-0", enqueued_at=T0 + 900))
    assert not await queue.requeue(client, keys, "case-0", "agt_other")
    assert await queue.requeue(client, keys, "case-0", "agt_a")

    assert await _waiting(client, keys) == ["case-0", "case-1", "case-2", "case-3", "case-late"]
    assert await queue.position(client, keys, "case-0") == 1
    assert await queue.holder(client, keys, "case-0") is None
    assert await client.smembers(keys.agent_load("agt_a")) == set()
    # A late duplicate of the same disconnect does nothing, even after someone else claimed it.
    assert await queue.claim(client, keys, "case-0", "agt_b")
    assert not await queue.requeue(client, keys, "case-0", "agt_a")
    assert await queue.holder(client, keys, "case-0") == "agt_b"


@pytest.mark.asyncio
async def test_a_case_is_claimed_once(client, keys) -> None:
    await queue.enqueue(client, keys, _entry("once"))
    assert await queue.claim(client, keys, "once", "agt_a")
    assert not await queue.claim(client, keys, "once", "agt_b")
    assert not await queue.claim(client, keys, "missing", "agt_b")
    assert await queue.holder(client, keys, "once") == "agt_a"
    assert await client.smembers(keys.agent_load("agt_a")) == {"once"}
    assert await client.smembers(keys.agent_load("agt_b")) == set()
    assert await queue.position(client, keys, "once") is None
    assert (await queue.entry(client, keys, "once")).case_id == "once"  # data stays for the console


@pytest.mark.asyncio
async def test_claim_respects_the_cap_when_given(client, keys) -> None:
    for number in range(3):
        await queue.enqueue(client, keys, _entry(f"cap-{number}", enqueued_at=T0 + number))
    assert await queue.claim(client, keys, "cap-0", "agt_a", max_chats=2)
    assert await queue.claim(client, keys, "cap-1", "agt_a", max_chats=2)
    assert not await queue.claim(client, keys, "cap-2", "agt_a", max_chats=2)
    assert await queue.position(client, keys, "cap-2") == 1


@pytest.mark.asyncio
async def test_release_transfer_and_cancel(client, keys) -> None:
    await queue.enqueue(client, keys, _entry("r1"))
    await queue.enqueue(client, keys, _entry("r2", enqueued_at=T0 + 1))
    assert await queue.claim(client, keys, "r1", "agt_a")

    assert not await queue.transfer(client, keys, "r1", "agt_b", "agt_c")
    assert await queue.transfer(client, keys, "r1", "agt_a", "agt_b")
    assert await queue.holder(client, keys, "r1") == "agt_b"
    assert await client.scard(keys.agent_load("agt_a")) == 0
    assert await client.smembers(keys.agent_load("agt_b")) == {"r1"}

    assert not await queue.release(client, keys, "r1", "agt_a")
    assert await queue.release(client, keys, "r1", "agt_b")
    assert await queue.holder(client, keys, "r1") is None
    assert await queue.entry(client, keys, "r1") is None
    assert await client.scard(keys.agent_load("agt_b")) == 0

    assert await queue.cancel(client, keys, "r2")
    assert not await queue.cancel(client, keys, "r2")
    assert await queue.entry(client, keys, "r2") is None
    assert await queue.waiting_count(client, keys) == 0


@pytest.mark.asyncio
async def test_claim_best_for_takes_the_first_case_the_agent_may_handle(client, keys) -> None:
    await queue.enqueue(client, keys, _entry("zh-emergency", language="zh-Hans", emergency=True))
    await queue.enqueue(client, keys, _entry("needs-authority", needs_authority=True, priority=90))
    await queue.enqueue(client, keys, _entry("delivery", skills_needed="delivery", priority=80))
    await queue.enqueue(client, keys, _entry("billing", priority=10))

    junior = _agent(
        "agt_junior",
        languages=frozenset({"en"}),
        skills=frozenset({"billing"}),
        may_approve_compensation=False,
        max_chats=1,
    )
    taken = await queue.claim_best_for(client, keys, junior)
    assert taken is not None and taken.case_id == "billing"
    assert await queue.claim_best_for(client, keys, junior) is None  # at its cap now
    assert await queue.holder(client, keys, "billing") == "agt_junior"

    senior = _agent("agt_senior", languages=frozenset({"en"}))
    assert (await queue.claim_best_for(client, keys, senior)).case_id == "needs-authority"
    assert (await queue.claim_best_for(client, keys, senior)).case_id == "delivery"
    assert await queue.claim_best_for(client, keys, senior) is None  # only the Chinese case is left
    assert await _waiting(client, keys) == ["zh-emergency"]


@pytest.mark.asyncio
async def test_the_claim_script_and_routing_agree_on_who_may_take_what(client, keys) -> None:
    languages = ["en", "zh-Hans"]
    combos = list(itertools.product(languages, ["billing", "delivery"], [False, True]))
    agents = [
        _agent(f"agt_{index}", languages=frozenset(langs), skills=frozenset(skills), may_approve_compensation=auth)
        for index, (langs, skills, auth) in enumerate(
            itertools.product([{"en"}, {"zh-Hans"}, {"en", "zh-Hans"}], [{"billing"}, {"any"}], [False, True])
        )
    ]
    for agent in agents:
        for language, skill, authority in combos:
            case_id = f"{agent.agent_id}-{language}-{skill}-{authority}"
            entry = _entry(case_id, language=language, skills_needed=skill, needs_authority=authority)
            await queue.enqueue(client, keys, entry)
            taken = await queue.claim_best_for(client, keys, agent)
            assert (taken is not None) == can_take(entry, agent), case_id
            if taken is None:
                await queue.cancel(client, keys, case_id)
            else:
                await queue.release(client, keys, case_id, agent.agent_id)


def test_wait_estimate_is_plain_arithmetic() -> None:
    assert queue.wait_estimate_seconds(1, 1, 360) == 360
    assert queue.wait_estimate_seconds(6, 3, 300) == 600
    assert queue.wait_estimate_seconds(4, 0, 300) == 1200  # nobody on duty: no pretending


@pytest.mark.asyncio
async def test_average_handle_time_uses_the_last_fifty_cases(client, keys) -> None:
    assert await queue.average_handle_seconds(client, keys) == 6 * 60
    assert await queue.average_handle_seconds(client, keys, fallback_seconds=42) == 42
    for _ in range(60):
        await queue.record_handle_time(client, keys, 1000)
    for _ in range(50):
        await queue.record_handle_time(client, keys, 200)
    assert await queue.average_handle_seconds(client, keys) == 200
    await queue.record_handle_time(client, keys, 250)
    assert await queue.average_handle_seconds(client, keys) == 201
    assert await client.llen(keys.handle_times()) == 50
