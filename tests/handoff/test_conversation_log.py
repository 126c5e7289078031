"""The conversation log in a real Redis: order, exactly-once replay, tailing, typing."""

from __future__ import annotations

import asyncio
from typing import List, Tuple

import pytest

from handoff import conversation_log
from handoff.conversation_log import MAX_TEXT_CHARS, TYPING_TTL_S


def _sequence(entry_id: str) -> Tuple[int, int]:
    milliseconds, counter = entry_id.split("-")
    return int(milliseconds), int(counter)


async def _fill(client, keys, conversation: str, count: int, start: int = 0) -> List[str]:
    return [
        await conversation_log.append(client, keys, conversation, "customer", f"message {number}")
        for number in range(start, start + count)
    ]


@pytest.mark.asyncio
async def test_append_returns_increasing_ids(client, keys) -> None:
    ids = await _fill(client, keys, "c1", 25)
    assert [_sequence(entry_id) for entry_id in ids] == sorted(_sequence(entry_id) for entry_id in ids)
    assert len(set(ids)) == 25
    assert await conversation_log.last_id(client, keys, "c1") == ids[-1]
    assert await conversation_log.last_id(client, keys, "empty") == "0-0"


@pytest.mark.asyncio
async def test_entries_keep_author_kind_and_extra_fields(client, keys) -> None:
    entry_id = await conversation_log.append(
        client, keys, "c2", "system", "Alice joined", kind="agent_joined", agent_id="agt_1"
    )
    [entry] = await conversation_log.read_after(client, keys, "c2")
    assert entry.id == entry_id
    assert (entry.author, entry.text, entry.kind) == ("system", "Alice joined", "agent_joined")
    assert entry.extra == {"agent_id": "agt_1"}
    assert entry.ts > 0


@pytest.mark.asyncio
async def test_read_after_returns_exactly_the_later_entries_in_order(client, keys) -> None:
    ids = await _fill(client, keys, "c3", 10)
    everything = await conversation_log.read_after(client, keys, "c3")
    assert [entry.id for entry in everything] == ids
    assert [entry.text for entry in everything] == [f"message {number}" for number in range(10)]
    for index, entry_id in enumerate(ids):
        after = await conversation_log.read_after(client, keys, "c3", last_id=entry_id)
        assert [entry.id for entry in after] == ids[index + 1 :]


@pytest.mark.asyncio
async def test_paging_with_count_delivers_each_entry_once(client, keys) -> None:
    ids = await _fill(client, keys, "c4", 23)
    delivered: List[str] = []
    last = "0-0"
    while True:
        page = await conversation_log.read_after(client, keys, "c4", last_id=last, count=5)
        if not page:
            break
        delivered.extend(entry.id for entry in page)
        last = page[-1].id
    assert delivered == ids


@pytest.mark.asyncio
async def test_a_reconnecting_reader_gets_exactly_what_it_missed(client, keys) -> None:
    first = await _fill(client, keys, "c5", 3)
    seen = await conversation_log.read_after(client, keys, "c5")
    acknowledged = seen[-1].id
    # The reader's socket drops; the conversation goes on without it.
    missed = await _fill(client, keys, "c5", 4, start=3)
    missed.append(await conversation_log.append(client, keys, "c5", "agent", "still there?"))
    replay = await conversation_log.read_after(client, keys, "c5", last_id=acknowledged)
    assert [entry.id for entry in replay] == missed
    assert not set(first) & {entry.id for entry in replay}
    assert await conversation_log.read_after(client, keys, "c5", last_id=replay[-1].id) == []


@pytest.mark.asyncio
async def test_tail_waits_for_new_entries_of_several_conversations(client, keys) -> None:
    a_last = (await _fill(client, keys, "ta", 2))[-1]
    b_last = await conversation_log.last_id(client, keys, "tb")

    async def write_later() -> List[str]:
        await asyncio.sleep(0.2)
        return [
            await conversation_log.append(client, keys, "tb", "customer", "hello"),
            await conversation_log.append(client, keys, "ta", "bot", "hi"),
        ]

    writer = asyncio.create_task(write_later())
    found = await conversation_log.tail(client, keys, {"ta": a_last, "tb": b_last}, block_ms=3000)
    written = await writer
    collected = {(cid, entry.id) for cid, entry in found}
    # XREAD returns as soon as the first entry arrives; read on from where we got to.
    positions = {"ta": a_last, "tb": b_last}
    for cid, entry in found:
        positions[cid] = entry.id
    if len(collected) < 2:
        more = await conversation_log.tail(client, keys, positions, block_ms=1000)
        collected |= {(cid, entry.id) for cid, entry in more}
    assert collected == {("tb", written[0]), ("ta", written[1])}


@pytest.mark.asyncio
async def test_tail_of_nothing_returns_at_once(client, keys) -> None:
    assert await conversation_log.tail(client, keys, {}, block_ms=5000) == []
    assert await conversation_log.tail(client, keys, {"quiet": "$"}, block_ms=50) == []


@pytest.mark.asyncio
async def test_text_is_bounded_and_authors_checked(client, keys) -> None:
    await conversation_log.append(client, keys, "c6", "customer", "x" * (MAX_TEXT_CHARS + 500))
    [entry] = await conversation_log.read_after(client, keys, "c6")
    assert len(entry.text) == MAX_TEXT_CHARS
    with pytest.raises(ValueError):
        await conversation_log.append(client, keys, "c6", "intruder", "hi")
    with pytest.raises(ValueError):
        await conversation_log.append(client, keys, "c6", "agent", "hi", ts="0")


@pytest.mark.asyncio
async def test_typing_expires_by_itself(client, keys) -> None:
    await conversation_log.set_typing(client, keys, "c7", "agent", True)
    assert await conversation_log.is_typing(client, keys, "c7", "agent")
    assert 0 < await client.ttl(keys.typing("c7", "agent")) <= TYPING_TTL_S
    assert not await conversation_log.is_typing(client, keys, "c7", "customer")
    await conversation_log.set_typing(client, keys, "c7", "agent", False)
    assert not await conversation_log.is_typing(client, keys, "c7", "agent")
    with pytest.raises(ValueError):
        await conversation_log.set_typing(client, keys, "c7", "bot", True)
