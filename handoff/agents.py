"""Agent accounts, sign-in sessions, presence and load, all in Redis; plus a small CLI.

    python -m handoff.agents create --name alice --password-stdin --role agent \\
        --skills billing,refund --languages en,zh-Hans --may-approve-compensation --max-chats 3
    python -m handoff.agents list
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import re
import secrets
import sys
import time
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence

import redis.asyncio as aioredis

from handoff.keys import Keys
from handoff.routing import AgentView
from handoff.settings import HandoffSettings

ROLES = frozenset({"agent", "supervisor"})
PRESENCES = frozenset({"available", "busy", "away", "offline"})
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_PASSWORD_CHARS = 8
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# Checked against when the name is unknown, so a wrong name costs the same time as a
# wrong password and response times do not reveal which names exist.
_DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${'00' * 16}${'00' * 32}"


class AgentExists(ValueError):
    """An agent with that name already exists."""


@dataclass(frozen=True)
class Agent:
    """An agent account, with presence and load as read together with it."""

    agent_id: str
    name: str
    role: str
    skills: FrozenSet[str]
    languages: FrozenSet[str]
    may_approve_compensation: bool
    max_chats: int
    created_at: float
    presence: str = "offline"
    load: int = 0
    idle_since: float = 0.0

    def view(self) -> AgentView:
        """What routing needs of this agent."""
        return AgentView(
            agent_id=self.agent_id,
            languages=self.languages,
            skills=self.skills,
            may_approve_compensation=self.may_approve_compensation,
            max_chats=self.max_chats,
            load=self.load,
            presence=self.presence,
            idle_since=self.idle_since,
        )


@dataclass(frozen=True)
class Session:
    """A signed-in agent; the token is what the console presents."""

    token: str
    agent_id: str
    name: str
    role: str
    created_at: float


def hash_password(password: str) -> str:
    """A salted scrypt hash as "scrypt$n$r$p$salt_hex$hash_hex"."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether the password matches a stored hash, compared in constant time."""
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(hash_hex)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def _fold(name: str) -> str:
    """Names are unique regardless of case ("Alice" and "alice" are one agent)."""
    return name.casefold()


def _token_digest(token: str) -> str:
    """Sessions are stored by the hash of their token, so a Redis dump holds no usable token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean_list(values: Iterable[str]) -> FrozenSet[str]:
    """Trimmed, non-empty values."""
    return frozenset(value.strip() for value in values if value.strip())


async def create_agent(
    client: aioredis.Redis,
    keys: Keys,
    name: str,
    password: str,
    role: str,
    skills: Iterable[str],
    languages: Iterable[str],
    may_approve_compensation: bool = False,
    max_chats: int = 3,
) -> Agent:
    """Create an account; raises AgentExists for a taken name and ValueError for bad input."""
    if not NAME_PATTERN.match(name):
        raise ValueError("name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    if max_chats < 1:
        raise ValueError("max_chats must be at least 1")
    skill_set, language_set = _clean_list(skills), _clean_list(languages)
    if not language_set:
        raise ValueError("an agent needs at least one language")
    password_hash = await asyncio.to_thread(hash_password, password)  # scrypt is slow on purpose
    agent_id = "agt_" + secrets.token_hex(6)
    # The name index is claimed first, atomically: of two creations only one gets it.
    if not await client.hsetnx(keys.agent_names(), _fold(name), agent_id):
        raise AgentExists(f"an agent named {name!r} already exists")
    agent = Agent(
        agent_id=agent_id,
        name=name,
        role=role,
        skills=skill_set,
        languages=language_set,
        may_approve_compensation=may_approve_compensation,
        max_chats=max_chats,
        created_at=time.time(),
    )
    await client.hset(
        keys.agent(agent_id),
        mapping={
            "agent_id": agent_id,
            "name": name,
            "role": role,
            "skills": ",".join(sorted(skill_set)),
            "languages": ",".join(sorted(language_set)),
            "may_approve_compensation": "1" if may_approve_compensation else "0",
            "max_chats": str(max_chats),
            "created_at": repr(agent.created_at),
            "password_hash": password_hash,
        },
    )
    return agent


async def get_agent(client: aioredis.Redis, keys: Keys, agent_id: str) -> Optional[Agent]:
    """One agent with presence and load, or None."""
    found = await _read_agents(client, keys, [agent_id])
    return found[0] if found else None


async def agent_id_by_name(client: aioredis.Redis, keys: Keys, name: str) -> Optional[str]:
    """The id of the agent with that name, or None."""
    agent_id = await client.hget(keys.agent_names(), _fold(name))
    return str(agent_id) if agent_id else None


async def list_agents(client: aioredis.Redis, keys: Keys) -> List[Agent]:
    """Every agent, by name."""
    agent_ids: Dict[str, str] = await client.hgetall(keys.agent_names())
    agents = await _read_agents(client, keys, list(agent_ids.values()))
    return sorted(agents, key=lambda agent: _fold(agent.name))


async def available_agents(client: aioredis.Redis, keys: Keys) -> List[Agent]:
    """The agents whose presence is "available", with their current load."""
    return [agent for agent in await list_agents(client, keys) if agent.presence == "available"]


async def _read_agents(client: aioredis.Redis, keys: Keys, agent_ids: Sequence[str]) -> List[Agent]:
    """Accounts with presence, load and idle time, read in one round trip."""
    if not agent_ids:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for agent_id in agent_ids:
            pipe.hgetall(keys.agent(agent_id))
            pipe.hget(keys.presence(agent_id), "state")
            pipe.scard(keys.agent_load(agent_id))
            pipe.zscore(keys.agent_activity(), agent_id)
        replies = await pipe.execute()
    agents: List[Agent] = []
    for index in range(len(agent_ids)):
        record, presence, load, idle_since = replies[index * 4 : index * 4 + 4]
        if not record:
            continue  # a name claimed by a creation that has not finished writing
        agents.append(
            Agent(
                agent_id=record["agent_id"],
                name=record["name"],
                role=record["role"],
                skills=_clean_list(record.get("skills", "").split(",")),
                languages=_clean_list(record.get("languages", "").split(",")),
                may_approve_compensation=record.get("may_approve_compensation") == "1",
                max_chats=int(record.get("max_chats", "1")),
                created_at=float(record.get("created_at", "0")),
                presence=presence or "offline",
                load=int(load),
                idle_since=float(idle_since or 0.0),
            )
        )
    return agents


async def sign_in(
    client: aioredis.Redis,
    keys: Keys,
    name: str,
    password: str,
    ttl_s: int = HandoffSettings.session_ttl_s,
) -> Optional[Session]:
    """A new session for the right name and password, else None (not saying which was wrong)."""
    agent_id = await agent_id_by_name(client, keys, name)
    record: Dict[str, str] = await client.hgetall(keys.agent(agent_id)) if agent_id else {}
    stored_hash = record.get("password_hash", _DUMMY_HASH)
    matches = await asyncio.to_thread(verify_password, password, stored_hash)
    if not record or not matches:
        return None
    token = secrets.token_urlsafe(32)
    signed_in = Session(
        token=token, agent_id=record["agent_id"], name=record["name"], role=record["role"], created_at=time.time()
    )
    key = keys.agent_session(_token_digest(token))
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(
            key,
            mapping={
                "agent_id": signed_in.agent_id,
                "name": signed_in.name,
                "role": signed_in.role,
                "created_at": repr(signed_in.created_at),
            },
        )
        pipe.expire(key, ttl_s)
        await pipe.execute()
    return signed_in


async def session(client: aioredis.Redis, keys: Keys, token: str) -> Optional[Session]:
    """The live session for a token, or None (unknown, signed out or expired)."""
    if not token:
        return None
    record: Dict[str, str] = await client.hgetall(keys.agent_session(_token_digest(token)))
    if not record:
        return None
    return Session(
        token=token,
        agent_id=record["agent_id"],
        name=record["name"],
        role=record["role"],
        created_at=float(record.get("created_at", "0")),
    )


async def sign_out(client: aioredis.Redis, keys: Keys, token: str) -> None:
    """End a session."""
    await client.delete(keys.agent_session(_token_digest(token)))


async def set_presence(
    client: aioredis.Redis, keys: Keys, agent_id: str, state: str, ttl_s: Optional[int] = None
) -> None:
    """Set an agent's presence; with ttl_s it falls back to offline unless refreshed (heartbeat)."""
    if state not in PRESENCES:
        raise ValueError(f"presence must be one of {sorted(PRESENCES)}")
    key = keys.presence(agent_id)
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping={"state": state, "since": repr(time.time())})
        if ttl_s is None:
            pipe.persist(key)
        else:
            pipe.expire(key, ttl_s)
        await pipe.execute()


async def presence(client: aioredis.Redis, keys: Keys, agent_id: str) -> str:
    """An agent's presence; offline when never set or expired."""
    state = await client.hget(keys.presence(agent_id), "state")
    return str(state) if state else "offline"


async def add_chat(client: aioredis.Redis, keys: Keys, agent_id: str, case_id: str) -> int:
    """Count a chat in an agent's load (queue claims do this themselves); returns the new load."""
    return await _change_load(client, keys, agent_id, case_id, add=True)


async def remove_chat(client: aioredis.Redis, keys: Keys, agent_id: str, case_id: str) -> int:
    """Stop counting a chat in an agent's load; returns the new load."""
    return await _change_load(client, keys, agent_id, case_id, add=False)


async def _change_load(client: aioredis.Redis, keys: Keys, agent_id: str, case_id: str, add: bool) -> int:
    """Change the load set and the idle clock together."""
    async with client.pipeline(transaction=True) as pipe:
        if add:
            pipe.sadd(keys.agent_load(agent_id), case_id)
        else:
            pipe.srem(keys.agent_load(agent_id), case_id)
        pipe.zadd(keys.agent_activity(), {agent_id: time.time()})
        pipe.scard(keys.agent_load(agent_id))
        replies = await pipe.execute()
    return int(replies[-1])


# --- command line ---


def _parser() -> argparse.ArgumentParser:
    """The CLI's arguments."""
    parser = argparse.ArgumentParser(prog="python -m handoff.agents", description="Manage agent accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an agent account")
    create.add_argument("--name", required=True)
    secret = create.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password")
    secret.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    create.add_argument("--role", choices=sorted(ROLES), default="agent")
    create.add_argument("--skills", default="any", help="comma-separated categories, or 'any'")
    create.add_argument("--languages", required=True, help="comma-separated, e.g. en,zh-Hans,zh-Hant")
    create.add_argument("--may-approve-compensation", action="store_true")
    create.add_argument("--max-chats", type=int, default=3)
    commands.add_parser("list", help="list agent accounts")
    return parser


async def _run(args: argparse.Namespace, settings: HandoffSettings) -> int:
    """Carry out one CLI command."""
    client = aioredis.from_url(settings.redis_url, decode_responses=True)
    keys = Keys(settings.key_prefix)
    try:
        if args.command == "create":
            password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else args.password
            try:
                agent = await create_agent(
                    client,
                    keys,
                    name=args.name,
                    password=password,
                    role=args.role,
                    skills=args.skills.split(","),
                    languages=args.languages.split(","),
                    may_approve_compensation=args.may_approve_compensation,
                    max_chats=args.max_chats,
                )
            except ValueError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            print(f"created {agent.name} ({agent.agent_id})")
            return 0
        for agent in await list_agents(client, keys):
            print(
                "\t".join(
                    (
                        agent.name,
                        agent.agent_id,
                        agent.role,
                        "languages=" + ",".join(sorted(agent.languages)),
                        "skills=" + ",".join(sorted(agent.skills)),
                        f"max_chats={agent.max_chats}",
                        "may_approve_compensation=" + ("yes" if agent.may_approve_compensation else "no"),
                        f"presence={agent.presence}",
                        f"load={agent.load}",
                    )
                )
            )
        return 0
    finally:
        await client.close()
        await client.connection_pool.disconnect()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of `python -m handoff.agents`."""
    args = _parser().parse_args(argv)
    return asyncio.run(_run(args, HandoffSettings.from_env()))


if __name__ == "__main__":
    sys.exit(main())
