"""Many agents claiming at once, on separate connections and processes: no case lost or doubled."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from typing import Dict, List, Sequence, Tuple

import pytest
import redis.asyncio as aioredis

from handoff import queue
from handoff.keys import Keys
from handoff.queue import QueueEntry
from handoff.routing import AgentView

CASES = 30
AGENTS = 12
MAX_CHATS = 3  # 12 x 3 = 36 seats for 30 cases: the caps are exercised too
LANGUAGES = ("en", "zh-Hans", "zh-Hant")
CATEGORIES = ("billing", "delivery", "product_quality")


def _cases() -> List[QueueEntry]:
    chooser = random.Random(7)
    return [
        QueueEntry(
            case_id=f"case-{number:02d}",
            conversation_id=f"conv-{number:02d}",
            language=LANGUAGES[number % 3],
            skills_needed=CATEGORIES[number % 3],
            needs_authority=number % 5 == 0,
            emergency=number % 11 == 0,
            priority=chooser.randint(0, 100),
            enqueued_at=1_900_000_000 + number,
        )
        for number in range(CASES)
    ]


def _agent(number: int) -> AgentView:
    # Every agent may take every case, so all 30 must end up held.
    return AgentView(
        agent_id=f"agt_{number:02d}",
        languages=frozenset(LANGUAGES),
        skills=frozenset({"any"}),
        may_approve_compensation=True,
        max_chats=MAX_CHATS,
        presence="available",
    )


async def _agent_loop(url: str, prefix: str, agent: AgentView, seed: int) -> List[str]:
    """One agent on its own connection: grab cases by id or best-for until the queue is empty."""
    keys = Keys(prefix)
    client = aioredis.from_url(url, decode_responses=True)
    chooser = random.Random(seed)
    case_ids = [entry.case_id for entry in _cases()]
    claimed: List[str] = []
    try:
        while len(claimed) < agent.max_chats and await queue.waiting_count(client, keys) > 0:
            if chooser.random() < 0.5:
                case_id = chooser.choice(case_ids)
                if await queue.claim(client, keys, case_id, agent.agent_id, max_chats=agent.max_chats):
                    claimed.append(case_id)
            else:
                taken = await queue.claim_best_for(client, keys, agent)
                if taken is not None:
                    claimed.append(taken.case_id)
            await asyncio.sleep(0)
    finally:
        await client.close()
        await client.connection_pool.disconnect()
    return claimed


async def _agents_in_this_loop(url: str, prefix: str, numbers: Sequence[int], seed: int) -> Dict[str, List[str]]:
    results = await asyncio.gather(
        *(_agent_loop(url, prefix, _agent(number), seed * 100 + number) for number in numbers)
    )
    return {_agent(number).agent_id: claimed for number, claimed in zip(numbers, results, strict=True)}


def _process_main(args: Tuple[str, str, List[int], int]) -> Dict[str, List[str]]:
    """Entry point of a worker process: its own event loop, its own connections."""
    url, prefix, numbers, seed = args
    return asyncio.run(_agents_in_this_loop(url, prefix, numbers, seed))


async def _fill_queue(client, keys: Keys) -> None:
    for entry in _cases():
        assert await queue.enqueue(client, keys, entry)
    assert await queue.waiting_count(client, keys) == CASES


async def _check_every_case_held_once(client, keys: Keys, claims: Dict[str, List[str]]) -> None:
    all_cases = {entry.case_id for entry in _cases()}
    claimed = [case_id for cases in claims.values() for case_id in cases]
    assert len(claimed) == len(set(claimed)), "a case was claimed twice"
    assert set(claimed) == all_cases, "a case was dropped"
    assert await queue.waiting_count(client, keys) == 0

    assignments = await client.hgetall(keys.assignments())
    assert set(assignments) == all_cases
    for agent_id, cases in claims.items():
        load = await client.smembers(keys.agent_load(agent_id))
        assert load == set(cases), agent_id
        assert len(load) <= MAX_CHATS, agent_id
        assert all(assignments[case_id] == agent_id for case_id in cases)
    # No case sits in two load sets (which the per-agent checks above imply, but say it).
    seen: Dict[str, str] = {}
    for number in range(AGENTS):
        agent_id = _agent(number).agent_id
        for case_id in await client.smembers(keys.agent_load(agent_id)):
            assert case_id not in seen, (case_id, seen.get(case_id), agent_id)
            seen[case_id] = agent_id
    assert len(seen) == CASES


@pytest.mark.asyncio
@pytest.mark.parametrize("round_number", range(3))
async def test_twelve_agents_race_for_thirty_cases(client, keys, redis_url, round_number: int) -> None:
    await _fill_queue(client, keys)
    claims = await _agents_in_this_loop(redis_url, keys.prefix, range(AGENTS), seed=round_number)
    await _check_every_case_held_once(client, keys, claims)


@pytest.mark.asyncio
async def test_agents_in_four_processes_race_for_thirty_cases(client, keys, redis_url) -> None:
    await _fill_queue(client, keys)
    groups = [list(range(start, AGENTS, 4)) for start in range(4)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(groups)) as pool:
        results = await asyncio.to_thread(
            pool.map, _process_main, [(redis_url, keys.prefix, group, seed) for seed, group in enumerate(groups)]
        )
    claims: Dict[str, List[str]] = {}
    for result in results:
        claims.update(result)
    await _check_every_case_held_once(client, keys, claims)
