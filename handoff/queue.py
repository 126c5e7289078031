"""The handoff queue: a priority order over a Redis sorted set, with atomic claims.

Order (lowest score first): emergencies, then higher priority, then who came first.
The score packs these into one exact integer (doubles hold integers up to 2**53):

    score = band * 10**13 + enqueued_at_ms
    band  = (0 if emergency else 101) + (100 - priority)      # 0..201

Epoch milliseconds stay below 10**13 until the year 2286, so the band always
dominates and the largest score (about 2.02e15) is far below 2**53 (about 9e15).

A waiting case is a member of the sorted set; a held case is a field of the
assignments hash (case -> agent) and a member of that agent's load set. Claims move a
case from the first to the second in one Lua script, so no case is ever held twice
or lost between the two.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import redis.asyncio as aioredis

from handoff.keys import Keys
from handoff.settings import HandoffSettings

if TYPE_CHECKING:
    from handoff.routing import AgentView

_BAND = 10**13
# Handle times kept for the average; enough to be stable, recent enough to follow the day.
HANDLE_TIME_SAMPLES = 50
# claim_best_for looks this deep into the queue, so one script never runs long.
SCAN_DEPTH = 500

_ENQUEUE = """
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""

_REQUEUE = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[2])
return 1
"""

_CLAIM = """
if ARGV[3] ~= '' and redis.call('SCARD', KEYS[4]) >= tonumber(ARGV[3]) then return 0 end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[2])
return 1
"""

# The matching rules mirror handoff.routing.can_take (tests check they agree).
_CLAIM_BEST = """
if redis.call('SCARD', KEYS[4]) >= tonumber(ARGV[5]) then return false end
local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
local languages = set_of(cjson.decode(ARGV[2]))
local skills = set_of(cjson.decode(ARGV[3]))
local authority = ARGV[4] == '1'
for _, case_id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[7]) - 1)) do
  local raw = redis.call('HGET', KEYS[2], case_id)
  if raw then
    local e = cjson.decode(raw)
    if languages[e.language] and (skills['any'] or skills[e.skills_needed])
        and (authority or not e.needs_authority) then
      redis.call('ZREM', KEYS[1], case_id)
      redis.call('HSET', KEYS[3], case_id, ARGV[1])
      redis.call('SADD', KEYS[4], case_id)
      redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1])
      return raw
    end
  end
end
return false
"""

_TRANSFER = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2], ARGV[4], ARGV[3])
return 1
"""

_CANCEL = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""

_RELEASE = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class QueueEntry:
    """A case waiting for a person, with what routing needs to know about it."""

    case_id: str
    conversation_id: str
    language: str
    skills_needed: str  # the complaint category; agents need it among their skills (or "any")
    needs_authority: bool = False
    emergency: bool = False
    priority: int = 0  # 0-100, higher first; computed by the caller (frustration, value tier, ...)
    enqueued_at: float = field(default_factory=time.time)  # epoch seconds

    def __post_init__(self) -> None:
        """Refuse a priority outside 0-100 (it would break the score bands)."""
        if not 0 <= self.priority <= 100:
            raise ValueError(f"priority must be 0-100, got {self.priority}")

    def waiting_seconds(self, now: Optional[float] = None) -> float:
        """How long the case has waited since it first entered the queue."""
        return max(0.0, (time.time() if now is None else now) - self.enqueued_at)

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> QueueEntry:
        """Parse the stored form."""
        data: Dict[str, Any] = json.loads(raw)
        return cls(
            case_id=str(data["case_id"]),
            conversation_id=str(data["conversation_id"]),
            language=str(data["language"]),
            skills_needed=str(data["skills_needed"]),
            needs_authority=bool(data.get("needs_authority", False)),
            emergency=bool(data.get("emergency", False)),
            priority=int(data.get("priority", 0)),
            enqueued_at=float(data["enqueued_at"]),
        )


def score(entry: QueueEntry) -> int:
    """The sorted-set score of an entry; see the module docstring."""
    band = (0 if entry.emergency else 101) + (100 - entry.priority)
    return band * _BAND + int(entry.enqueued_at * 1000)


def _held_keys(keys: Keys, agent_id: str) -> List[str]:
    """The keys every queue script touches, in the order the scripts expect."""
    return [keys.queue(), keys.queue_entries(), keys.assignments(), keys.agent_load(agent_id), keys.agent_activity()]


async def enqueue(client: aioredis.Redis, keys: Keys, entry: QueueEntry) -> bool:
    """Put a case in the queue; one already waiting keeps its place; False if an agent holds it."""
    script = client.register_script(_ENQUEUE)
    added = await script(
        keys=[keys.queue(), keys.queue_entries(), keys.assignments()],
        args=[entry.case_id, score(entry), entry.to_json()],
    )
    if int(added):
        # Bridges poll the queue too; this only makes the offer go out at once.
        await client.publish(keys.queue_events(), entry.case_id)
    return bool(int(added))


async def requeue(client: aioredis.Redis, keys: Keys, case_id: str, agent_id: str) -> bool:
    """Give a held case back to the queue at its original place (agent gone, or transfer to queue).

    Only the agent holding it can give it back, so a late duplicate call cannot
    requeue a case another agent has claimed since.
    """
    stored = await entry(client, keys, case_id)
    if stored is None:
        return False
    script = client.register_script(_REQUEUE)
    done = await script(
        keys=_held_keys(keys, agent_id),
        args=[case_id, agent_id, score(stored), stored.to_json(), repr(time.time())],
    )
    return bool(int(done))


async def claim(
    client: aioredis.Redis, keys: Keys, case_id: str, agent_id: str, max_chats: Optional[int] = None
) -> bool:
    """Take a waiting case for an agent; False if it is no longer waiting (or the agent is full)."""
    script = client.register_script(_CLAIM)
    taken = await script(
        keys=_held_keys(keys, agent_id),
        args=[case_id, agent_id, "" if max_chats is None else max_chats, repr(time.time())],
    )
    return bool(int(taken))


async def claim_best_for(client: aioredis.Redis, keys: Keys, agent: AgentView) -> Optional[QueueEntry]:
    """Take the first waiting case this agent may handle (language, skill, authority, load)."""
    script = client.register_script(_CLAIM_BEST)
    raw = await script(
        keys=_held_keys(keys, agent.agent_id),
        args=[
            agent.agent_id,
            json.dumps(sorted(agent.languages)),
            json.dumps(sorted(agent.skills)),
            "1" if agent.may_approve_compensation else "0",
            agent.max_chats,
            repr(time.time()),
            SCAN_DEPTH,
        ],
    )
    return QueueEntry.from_json(raw) if raw else None


async def release(client: aioredis.Redis, keys: Keys, case_id: str, agent_id: str) -> bool:
    """The agent is done with a case (resolved or closed): it leaves their load for good."""
    script = client.register_script(_RELEASE)
    done = await script(keys=_held_keys(keys, agent_id), args=[case_id, agent_id, repr(time.time())])
    return bool(int(done))


async def transfer(client: aioredis.Redis, keys: Keys, case_id: str, from_agent: str, to_agent: str) -> bool:
    """Hand a held case from one agent straight to another; False if `from_agent` does not hold it."""
    script = client.register_script(_TRANSFER)
    done = await script(
        keys=[keys.assignments(), keys.agent_load(from_agent), keys.agent_load(to_agent), keys.agent_activity()],
        args=[case_id, from_agent, to_agent, repr(time.time())],
    )
    return bool(int(done))


async def cancel(client: aioredis.Redis, keys: Keys, case_id: str) -> bool:
    """Take a waiting case out of the queue (the customer no longer waits); False if not waiting."""
    script = client.register_script(_CANCEL)
    return bool(int(await script(keys=[keys.queue(), keys.queue_entries()], args=[case_id])))


async def entry(client: aioredis.Redis, keys: Keys, case_id: str) -> Optional[QueueEntry]:
    """The stored entry of a waiting or held case."""
    raw = await client.hget(keys.queue_entries(), case_id)
    return QueueEntry.from_json(raw) if raw else None


async def holder(client: aioredis.Redis, keys: Keys, case_id: str) -> Optional[str]:
    """The id of the agent holding a case, if any."""
    agent_id = await client.hget(keys.assignments(), case_id)
    return str(agent_id) if agent_id else None


async def position(client: aioredis.Redis, keys: Keys, case_id: str) -> Optional[int]:
    """The 1-based place of a waiting case, or None when it is not waiting."""
    rank = await client.zrank(keys.queue(), case_id)
    return None if rank is None else int(rank) + 1


async def waiting_count(client: aioredis.Redis, keys: Keys) -> int:
    """How many cases wait."""
    return int(await client.zcard(keys.queue()))


async def list_waiting(client: aioredis.Redis, keys: Keys, limit: int = 100) -> List[QueueEntry]:
    """The first `limit` waiting cases in the order they will be served."""
    if limit <= 0:
        return []
    case_ids = await client.zrange(keys.queue(), 0, limit - 1)
    if not case_ids:
        return []
    raws = await client.hmget(keys.queue_entries(), case_ids)
    return [QueueEntry.from_json(raw) for raw in raws if raw]


def wait_estimate_seconds(position: int, available_agents: int, average_handle_seconds: float) -> float:
    """An honest wait: the cases ahead (and this one) shared among the agents on duty."""
    return position / max(available_agents, 1) * average_handle_seconds


async def record_handle_time(client: aioredis.Redis, keys: Keys, seconds: float) -> None:
    """Remember how long a resolved case took, keeping only the most recent samples."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.lpush(keys.handle_times(), repr(float(seconds)))
        pipe.ltrim(keys.handle_times(), 0, HANDLE_TIME_SAMPLES - 1)
        await pipe.execute()


async def average_handle_seconds(
    client: aioredis.Redis,
    keys: Keys,
    fallback_seconds: float = HandoffSettings.default_handle_minutes * 60,
) -> float:
    """The mean of the recent handle times, or the fallback before any case was resolved."""
    samples = await client.lrange(keys.handle_times(), 0, HANDLE_TIME_SAMPLES - 1)
    if not samples:
        return fallback_seconds
    return sum(float(sample) for sample in samples) / len(samples)
