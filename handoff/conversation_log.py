"""The conversation log: one Redis Stream per conversation, the bus every party reads.

A receiver remembers the id of the last entry it delivered and asks for what comes
after it, so a reconnecting widget or console gets exactly what it missed, in order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import redis.asyncio as aioredis

from handoff.keys import Keys

AUTHORS = frozenset({"customer", "bot", "agent", "system"})
TYPING_PARTIES = frozenset({"customer", "agent"})
MAX_TEXT_CHARS = 8000
# Approximate trimming (~) is O(1) per append; a conversation never gets near this.
MAX_ENTRIES = 5000
# A lost "stopped typing" must not leave an indicator on for good.
TYPING_TTL_S = 8
_CORE = frozenset({"author", "text", "kind", "ts"})


@dataclass(frozen=True)
class LogEntry:
    """One message or event of a conversation; `id` is its place in the sequence."""

    id: str
    author: str
    text: str
    kind: str = "message"
    ts: float = 0.0
    extra: Dict[str, str] = field(default_factory=dict)


async def append(
    client: aioredis.Redis,
    keys: Keys,
    conversation_id: str,
    author: str,
    text: str,
    kind: str = "message",
    **extra: Any,
) -> str:
    """Add an entry to the end of a conversation's log and return its id."""
    if author not in AUTHORS:
        raise ValueError(f"unknown author {author!r}")
    clashing = _CORE.intersection(extra)
    if clashing:
        raise ValueError(f"reserved log fields: {sorted(clashing)}")
    # Frames are validated before they get here; this bound only keeps a bug from
    # storing megabytes in a conversation.
    entry = {"author": author, "text": text[:MAX_TEXT_CHARS], "kind": kind, "ts": repr(time.time())}
    entry.update({name: "" if value is None else str(value) for name, value in extra.items()})
    entry_id = await client.xadd(keys.conversation_log(conversation_id), entry, maxlen=MAX_ENTRIES, approximate=True)
    return str(entry_id)


async def read_after(
    client: aioredis.Redis,
    keys: Keys,
    conversation_id: str,
    last_id: str = "0-0",
    count: int = 100,
) -> List[LogEntry]:
    """The entries after `last_id` (exclusive), oldest first, at most `count`."""
    rows = await client.xrange(keys.conversation_log(conversation_id), min=f"({last_id}", max="+", count=count)
    return [_entry(entry_id, values) for entry_id, values in rows]


async def tail(
    client: aioredis.Redis,
    keys: Keys,
    conversation_ids: Dict[str, str],
    block_ms: Optional[int] = None,
    count: int = 100,
) -> List[Tuple[str, LogEntry]]:
    """New entries of several conversations after each one's last id, waiting up to block_ms."""
    if not conversation_ids:
        return []
    streams = {keys.conversation_log(cid): last_id for cid, last_id in conversation_ids.items()}
    by_stream = {keys.conversation_log(cid): cid for cid in conversation_ids}
    replies = await client.xread(streams, count=count, block=block_ms)
    found: List[Tuple[str, LogEntry]] = []
    for stream, rows in replies or []:
        for entry_id, values in rows:
            found.append((by_stream[stream], _entry(entry_id, values)))
    return found


async def last_id(client: aioredis.Redis, keys: Keys, conversation_id: str) -> str:
    """The id of the newest entry, or "0-0" for an empty log (where a new reader starts)."""
    rows = await client.xrevrange(keys.conversation_log(conversation_id), count=1)
    return str(rows[0][0]) if rows else "0-0"


async def set_typing(client: aioredis.Redis, keys: Keys, conversation_id: str, party: str, on: bool) -> None:
    """Show or hide that a party is typing; it goes away by itself after TYPING_TTL_S."""
    if party not in TYPING_PARTIES:
        raise ValueError(f"unknown typing party {party!r}")
    key = keys.typing(conversation_id, party)
    if on:
        await client.set(key, "1", ex=TYPING_TTL_S)
    else:
        await client.delete(key)


async def is_typing(client: aioredis.Redis, keys: Keys, conversation_id: str, party: str) -> bool:
    """Whether a party of the conversation is typing now."""
    return bool(await client.exists(keys.typing(conversation_id, party)))


def _entry(entry_id: str, values: Dict[str, str]) -> LogEntry:
    """A stream row as a LogEntry."""
    return LogEntry(
        id=str(entry_id),
        author=values.get("author", "system"),
        text=values.get("text", ""),
        kind=values.get("kind", "message"),
        ts=float(values.get("ts", "0") or 0),
        extra={name: value for name, value in values.items() if name not in _CORE},
    )
