"""Pushing the conversation logs an agent holds, and the agent's inbox, to one console socket.

One `Link` per signed-in socket holds the only state the bridge keeps in memory about
it: the id of the last log entry delivered per conversation (its cursor), the id of the
last inbox entry, and the customer typing flags last sent. Everything else is read from
Redis on every round, so a restarted bridge picks up where the old one stopped as soon
as the console resumes its session and syncs.

A round of `run_relay`:
1. refresh the set of conversations the agent holds (their load set in Redis); a new one
   is announced with `assigned` (the enriched case and its transcript), and its cursor
   starts after that transcript; one no longer held is dropped silently (the operation
   that moved it sends `case_closed` through the inbox);
2. XREAD BLOCK (1 s) on those logs after their cursors and on the agent's inbox stream;
   log entries go out as `message` frames in order, each at most once (an entry with an
   id at or before the cursor is skipped; the agent's own message from this socket was
   already echoed and is skipped too); inbox entries go out as they are;
3. poll the customer typing flags of the held conversations (one pipelined EXISTS per
   round, so at most about a second late) and send `typing` when one changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple

import redis.asyncio as aioredis

from handoff import conversation_log, protocol
from handoff.conversation_log import LogEntry
from handoff.enriched import entry_dict, load_case
from handoff.keys import Keys

log = logging.getLogger(__name__)

BLOCK_MS = 1000
READ_COUNT = 100
INBOX_MAXLEN = 200
INBOX_TTL_S = 24 * 3600
# Inbox frames whose type starts with this only wake the relay (to refresh its chats).
CONTROL_PREFIX = "_"

Send = Callable[[Dict[str, Any]], Awaitable[None]]


def stream_order(entry_id: str) -> Tuple[int, int]:
    """A stream id as a tuple that sorts like the ids."""
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def message_frame(conversation_id: str, entry: LogEntry) -> Dict[str, Any]:
    """A log entry as a `message` frame."""
    row = entry_dict(entry)
    return protocol.message(
        conversation_id,
        entry.id,
        entry.author,
        entry.text,
        row["at"],
        client_id=entry.extra.get("client_id"),
        kind=row.get("kind"),
        agent_name=row.get("agent_name"),
        buttons=row.get("buttons"),
    )


@dataclass(eq=False)
class Link:
    """What one socket has been sent; see the module docstring."""

    conn_id: str
    agent_id: str
    send: Send
    inbox_cursor: str = "0-0"
    cursors: Dict[str, str] = field(default_factory=dict)  # conversation -> last delivered id
    cases: Dict[str, str] = field(default_factory=dict)  # conversation -> case id
    claiming: Set[str] = field(default_factory=set)  # case ids this socket's handler is taking now
    customer_typing: Dict[str, bool] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    active: bool = True  # cleared when the socket closes or signs out

    async def deliver(self, conversation_id: str, entry: LogEntry) -> None:
        """Send one log entry unless it was delivered already (call with the lock held)."""
        cursor = self.cursors.get(conversation_id)
        if cursor is None or stream_order(entry.id) <= stream_order(cursor):
            return
        self.cursors[conversation_id] = entry.id
        if entry.extra.get("origin") == self.conn_id:
            return  # this socket's own message, echoed when it was sent
        await self.send(message_frame(conversation_id, entry))

    async def announce(self, case: Dict[str, Any]) -> None:
        """Send `assigned` and start following the case's log after its transcript (lock held)."""
        conversation_id = str(case["conversation_id"])
        transcript = case.get("transcript") or []
        self.track(conversation_id, str(case["case_id"]), str(transcript[-1]["id"]) if transcript else "0-0")
        await self.send(protocol.assigned(case))

    def track(self, conversation_id: str, case_id: str, after_id: str) -> None:
        """Follow a conversation from after_id on (never moving a cursor backwards)."""
        current = self.cursors.get(conversation_id)
        if current is None or stream_order(after_id) > stream_order(current):
            self.cursors[conversation_id] = after_id
        self.cases[conversation_id] = case_id

    def forget(self, conversation_id: str) -> None:
        """Stop following a conversation."""
        self.cursors.pop(conversation_id, None)
        self.cases.pop(conversation_id, None)
        self.customer_typing.pop(conversation_id, None)


async def publish(client: aioredis.Redis, keys: Keys, agent_id: str, frame: Dict[str, Any]) -> None:
    """Put a frame in an agent's inbox; every socket of that agent, on any bridge, sends it."""
    key = keys.agent_inbox(agent_id)
    async with client.pipeline(transaction=True) as pipe:
        pipe.xadd(key, {"frame": protocol.encode(frame)}, maxlen=INBOX_MAXLEN, approximate=True)
        pipe.expire(key, INBOX_TTL_S)
        await pipe.execute()


async def nudge(client: aioredis.Redis, keys: Keys, agent_id: str) -> None:
    """Wake the agent's relays so they see a change of their chats at once."""
    await publish(client, keys, agent_id, {"type": CONTROL_PREFIX + "refresh"})


async def inbox_end(client: aioredis.Redis, keys: Keys, agent_id: str) -> str:
    """The id a new socket starts reading the inbox after (only frames from now on)."""
    rows = await client.xrevrange(keys.agent_inbox(agent_id), count=1)
    return str(rows[0][0]) if rows else "0-0"


async def held_conversations(client: aioredis.Redis, keys: Keys, agent_id: str) -> Dict[str, str]:
    """conversation id -> case id of every case the agent holds."""
    case_ids = sorted(await client.smembers(keys.agent_load(agent_id)))
    if not case_ids:
        return {}
    raws = await client.hmget(keys.queue_entries(), case_ids)
    held: Dict[str, str] = {}
    for case_id, raw in zip(case_ids, raws, strict=True):
        conversation_id = _conversation_of(case_id, raw)
        if conversation_id:
            held[conversation_id] = case_id
    return held


def _conversation_of(case_id: str, raw: Optional[str]) -> Optional[str]:
    """The conversation id in a stored queue entry."""
    if not raw:
        return None
    try:
        return str(json.loads(raw)["conversation_id"])
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable queue entry of %s", case_id)
        return None


async def refresh(client: aioredis.Redis, keys: Keys, link: Link) -> None:
    """Follow newly held conversations (announcing them) and drop the ones no longer held."""
    held = await held_conversations(client, keys, link.agent_id)
    for conversation_id in [cid for cid in link.cursors if cid not in held]:
        link.forget(conversation_id)
    for conversation_id, case_id in held.items():
        if conversation_id in link.cursors or case_id in link.claiming:
            continue
        case = await load_case(client, keys, case_id)
        async with link.lock:
            if conversation_id not in link.cursors and case_id not in link.claiming:
                await link.announce(case)


async def pump(client: aioredis.Redis, keys: Keys, link: Link, block_ms: int = BLOCK_MS) -> None:
    """One blocking read of the held logs and the inbox; deliver what came."""
    inbox = keys.agent_inbox(link.agent_id)
    streams: Dict[str, str] = {inbox: link.inbox_cursor}
    by_stream: Dict[str, str] = {}
    for conversation_id, cursor in link.cursors.items():
        streams[keys.conversation_log(conversation_id)] = cursor
        by_stream[keys.conversation_log(conversation_id)] = conversation_id
    replies = await client.xread(streams, count=READ_COUNT, block=block_ms)
    for stream, rows in replies or []:
        if stream == inbox:
            await _deliver_inbox(link, rows)
            continue
        owner = by_stream.get(stream)
        if owner is None:
            continue
        async with link.lock:
            for entry_id, values in rows:
                await link.deliver(owner, conversation_log._entry(entry_id, values))


async def _deliver_inbox(link: Link, rows: List[Tuple[str, Dict[str, str]]]) -> None:
    """Send the frames of new inbox entries (control entries only wake the relay)."""
    for entry_id, values in rows:
        link.inbox_cursor = str(entry_id)
        try:
            frame = json.loads(values.get("frame", "{}"))
        except ValueError:
            continue
        if isinstance(frame, dict) and not str(frame.get("type", "")).startswith(CONTROL_PREFIX):
            await link.send(frame)


async def poll_typing(client: aioredis.Redis, keys: Keys, link: Link) -> None:
    """Send `typing` for each held conversation whose customer started or stopped typing."""
    conversation_ids = list(link.cursors)
    if not conversation_ids:
        return
    async with client.pipeline(transaction=False) as pipe:
        for conversation_id in conversation_ids:
            pipe.exists(keys.typing(conversation_id, "customer"))
        flags = await pipe.execute()
    for conversation_id, flag in zip(conversation_ids, flags, strict=True):
        on = bool(flag)
        if link.customer_typing.get(conversation_id, False) != on:
            link.customer_typing[conversation_id] = on
            await link.send(protocol.typing(conversation_id, "customer", on))


async def run_relay(client: aioredis.Redis, keys: Keys, link: Link, block_ms: int = BLOCK_MS) -> None:
    """Relay rounds until the link is deactivated (and the task cancelled)."""
    while link.active:
        await refresh(client, keys, link)
        await pump(client, keys, link, block_ms)
        await poll_typing(client, keys, link)


async def stop_relay(link: Link, task: asyncio.Task) -> None:
    """Stop a relay task for sure.

    A cancellation can be lost inside redis-py (a zero timeout in its connection check
    may turn it into a timeout it handles), so the link is deactivated too, which ends
    the loop after the current blocking read, and the cancel is repeated until it ends.
    """
    link.active = False
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=BLOCK_MS / 1000)


async def replay(client: aioredis.Redis, keys: Keys, link: Link, conversation_id: str, after_id: str) -> int:
    """`sync`: send every entry after after_id, in order, and go on from the last (lock held)."""
    sent = 0
    cursor = after_id
    while True:
        rows = await conversation_log.read_after(client, keys, conversation_id, cursor, READ_COUNT)
        if not rows:
            break
        for entry in rows:
            await link.send(message_frame(conversation_id, entry))
            cursor = entry.id
            sent += 1
    if sent:
        # The end of the log now, so at or after anything the relay delivered before.
        link.cursors[conversation_id] = cursor
    return sent
