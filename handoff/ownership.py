"""Who owns a conversation: an explicit state machine in Redis, changed only atomically.

=============  ==========================================================================
from           allowed to
=============  ==========================================================================
bot            queued (a handoff signal fired)
queued         offered (offered to an agent), agent (an agent picked it from the queue),
               bot (the customer cancelled), closed
offered        agent (accepted), queued (declined or timed out), bot (customer cancelled)
agent          agent (transfer to another agent), queued (transfer to the queue, or the
               agent is gone), handed_back (back to the bot, which asks for CSAT), closed
handed_back    bot, queued (the customer wants a person again)
closed         bot (the customer came back), queued
=============  ==========================================================================

A conversation never seen before is owned by the bot (version 0). Every change of
owner clears both typing indicators of the conversation, so nobody sees "typing..."
from a party that is no longer in the conversation.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, Optional

import redis.asyncio as aioredis

from handoff.keys import Keys

BOT = "bot"
QUEUED = "queued"
OFFERED = "offered"
AGENT = "agent"
HANDED_BACK = "handed_back"
CLOSED = "closed"
STATES = (BOT, QUEUED, OFFERED, AGENT, HANDED_BACK, CLOSED)

ALLOWED: Dict[str, FrozenSet[str]] = {
    BOT: frozenset({QUEUED}),
    QUEUED: frozenset({OFFERED, AGENT, BOT, CLOSED}),
    OFFERED: frozenset({AGENT, QUEUED, BOT}),
    AGENT: frozenset({AGENT, QUEUED, HANDED_BACK, CLOSED}),
    HANDED_BACK: frozenset({BOT, QUEUED}),
    CLOSED: frozenset({BOT, QUEUED}),
}

# States that name an agent: the one who owns it, or the one it is offered to.
_WITH_AGENT = frozenset({OFFERED, AGENT})
_RESERVED = frozenset({"state", "agent_id", "case_id", "version", "updated_at"})

# Read, check and write in one script, so two instances can never both move a
# conversation out of the same state. The table comes in as JSON from ALLOWED above,
# so it is written down once.
_TRANSITION = """
local current = redis.call('HGET', KEYS[1], 'state') or 'bot'
local permitted = false
for _, target in ipairs(cjson.decode(ARGV[2])[current] or {}) do
  if target == ARGV[1] then permitted = true end
end
if permitted and ARGV[3] ~= '' then
  local expected = false
  for _, state in ipairs(cjson.decode(ARGV[3])) do
    if state == current then expected = true end
  end
  permitted = expected
end
if not permitted then return {0, current} end
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0') + 1
local case_id = ARGV[6]
if ARGV[5] == '1' then case_id = redis.call('HGET', KEYS[1], 'case_id') or '' end
local values = {'state', ARGV[1], 'agent_id', ARGV[4], 'case_id', case_id,
                'version', tostring(version), 'updated_at', ARGV[7]}
for i = 8, #ARGV do values[#values + 1] = ARGV[i] end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(values))
redis.call('DEL', KEYS[2], KEYS[3])
return {1, tostring(version), case_id}
"""


class TransitionRefused(Exception):
    """The conversation is not in a state from which the wanted move is allowed."""

    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"cannot move a conversation from {current!r} to {wanted!r}")
        self.current = current
        self.wanted = wanted


@dataclass(frozen=True)
class OwnerState:
    """The owner of one conversation as stored; `extra` holds the fields of the last move."""

    state: str = BOT
    agent_id: Optional[str] = None
    case_id: Optional[str] = None
    version: int = 0
    updated_at: float = 0.0
    extra: Dict[str, str] = field(default_factory=dict)


async def transition(
    client: aioredis.Redis,
    keys: Keys,
    conversation_id: str,
    to_state: str,
    expected_from: Optional[Iterable[str]] = None,
    agent_id: Optional[str] = None,
    case_id: Optional[str] = None,
    **fields: Any,
) -> OwnerState:
    """Move a conversation to another owner atomically, or raise TransitionRefused.

    `agent_id` is required for offered and agent, and cleared for every other state;
    `case_id` is kept from the previous state unless given; `fields` are stored with
    this move only (a reason, who asked), replacing those of the previous move.
    """
    if to_state not in ALLOWED:
        raise ValueError(f"unknown owner state {to_state!r}")
    if to_state in _WITH_AGENT and not agent_id:
        raise ValueError(f"moving to {to_state!r} needs the agent_id")
    clashing = _RESERVED.intersection(fields)
    if clashing:
        raise ValueError(f"reserved owner fields: {sorted(clashing)}")
    owner_agent = agent_id if to_state in _WITH_AGENT else ""
    extra = {name: "" if value is None else str(value) for name, value in fields.items()}
    now = time.time()
    args = [
        to_state,
        json.dumps({state: sorted(targets) for state, targets in ALLOWED.items()}),
        "" if expected_from is None else json.dumps(sorted(set(expected_from))),
        owner_agent,
        "1" if case_id is None else "0",
        case_id or "",
        repr(now),
    ]
    for name, value in extra.items():
        args.extend((name, value))
    script = client.register_script(_TRANSITION)
    result = await script(
        keys=[
            keys.owner(conversation_id),
            keys.typing(conversation_id, "customer"),
            keys.typing(conversation_id, "agent"),
        ],
        args=args,
    )
    if int(result[0]) != 1:
        raise TransitionRefused(str(result[1]), to_state)
    return OwnerState(
        state=to_state,
        agent_id=owner_agent or None,
        case_id=str(result[2]) or None,
        version=int(result[1]),
        updated_at=now,
        extra=extra,
    )


async def current(client: aioredis.Redis, keys: Keys, conversation_id: str) -> OwnerState:
    """The owner of a conversation now; the bot when nothing is stored."""
    stored: Dict[str, str] = await client.hgetall(keys.owner(conversation_id))
    if not stored:
        return OwnerState()
    return OwnerState(
        state=stored.get("state", BOT),
        agent_id=stored.get("agent_id") or None,
        case_id=stored.get("case_id") or None,
        version=int(stored.get("version", "0")),
        updated_at=float(stored.get("updated_at", "0")),
        extra={name: value for name, value in stored.items() if name not in _RESERVED},
    )


async def reopen_for_customer(client: aioredis.Redis, keys: Keys, conversation_id: str) -> OwnerState:
    """A customer writing into a closed conversation starts again with the bot."""
    state = await current(client, keys, conversation_id)
    if state.state != CLOSED:
        return state
    try:
        return await transition(client, keys, conversation_id, BOT, expected_from={CLOSED}, reason="customer_returned")
    except TransitionRefused:
        # Someone else moved it first (another instance reopened it, or it was queued).
        return await current(client, keys, conversation_id)
