"""Agent accounts in a real Redis: password hashes, sign-in, sessions, presence, load, CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handoff import agents, queue
from handoff.agents import AgentExists
from handoff.queue import QueueEntry

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


async def _alice(client, keys, **fields) -> agents.Agent:
    values = dict(
        name="alice",
        password=PASSWORD,
        role="agent",
        skills=["billing", "refund"],
        languages=["en", "zh-Hans"],
        may_approve_compensation=True,
        max_chats=3,
    )
    values.update(fields)
    return await agents.create_agent(client, keys, **values)


@pytest.mark.asyncio
async def test_password_is_stored_as_an_scrypt_hash(client, keys) -> None:
    alice = await _alice(client, keys)
    bob = await _alice(client, keys, name="bob")
    stored = await client.hget(keys.agent(alice.agent_id), "password_hash")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(digest)) == 32
    assert PASSWORD not in stored
    assert stored != await client.hget(keys.agent(bob.agent_id), "password_hash")  # salted
    assert PASSWORD not in str(await client.hgetall(keys.agent(alice.agent_id)))
    assert agents.verify_password(PASSWORD, stored)
    assert not agents.verify_password("wrong", stored)
    assert not agents.verify_password(PASSWORD, "md5$abc")


@pytest.mark.asyncio
async def test_the_account_is_stored_as_given(client, keys) -> None:
    alice = await _alice(client, keys)
    found = await agents.get_agent(client, keys, alice.agent_id)
    assert found == alice
    assert found.skills == {"billing", "refund"} and found.languages == {"en", "zh-Hans"}
    assert await agents.agent_id_by_name(client, keys, "ALICE") == alice.agent_id
    assert await agents.get_agent(client, keys, "agt_missing") is None


@pytest.mark.asyncio
async def test_duplicate_names_are_refused_even_when_created_at_once(client, keys) -> None:
    await _alice(client, keys)
    with pytest.raises(AgentExists):
        await _alice(client, keys)
    with pytest.raises(AgentExists):
        await _alice(client, keys, name="Alice")
    results = await asyncio.gather(*(_alice(client, keys, name="carol") for _ in range(5)), return_exceptions=True)
    assert sum(isinstance(result, agents.Agent) for result in results) == 1
    assert sum(isinstance(result, AgentExists) for result in results) == 4
    assert [agent.name for agent in await agents.list_agents(client, keys)] == ["alice", "carol"]


@pytest.mark.asyncio
async def test_bad_accounts_are_refused(client, keys) -> None:
    for fields in (
        {"name": "bad name"},
        {"name": ""},
        {"role": "admin"},
        {"password": "short"},
        {"max_chats": 0},
        {"languages": []},
    ):
        with pytest.raises(ValueError):
            await _alice(client, keys, **fields)
    assert await agents.list_agents(client, keys) == []


@pytest.mark.asyncio
async def test_sign_in_needs_the_right_name_and_password(client, keys) -> None:
    alice = await _alice(client, keys)
    assert await agents.sign_in(client, keys, "alice", "wrong password") is None
    assert await agents.sign_in(client, keys, "nobody", PASSWORD) is None
    signed_in = await agents.sign_in(client, keys, "alice", PASSWORD)
    assert signed_in is not None
    assert (signed_in.agent_id, signed_in.name, signed_in.role) == (alice.agent_id, "alice", "agent")
    assert len(signed_in.token) >= 40
    assert await agents.session(client, keys, signed_in.token) == signed_in
    # The token itself is not a key name: a Redis dump hands out no sessions.
    assert not [key async for key in client.scan_iter(match=f"{keys.prefix}:*{signed_in.token}*")]
    assert await agents.session(client, keys, "forged-token") is None
    assert await agents.session(client, keys, "") is None


@pytest.mark.asyncio
async def test_sessions_expire_and_can_be_ended(client, keys) -> None:
    await _alice(client, keys)
    lasting = await agents.sign_in(client, keys, "alice", PASSWORD)
    assert 8 * 3600 - 5 <= await client.ttl(keys.agent_session(agents._token_digest(lasting.token))) <= 8 * 3600
    short = await agents.sign_in(client, keys, "alice", PASSWORD, ttl_s=1)
    assert await agents.session(client, keys, short.token) is not None
    await asyncio.sleep(1.3)
    assert await agents.session(client, keys, short.token) is None
    assert await agents.session(client, keys, lasting.token) is not None
    await agents.sign_out(client, keys, lasting.token)
    assert await agents.session(client, keys, lasting.token) is None


@pytest.mark.asyncio
async def test_presence_and_load(client, keys) -> None:
    alice = await _alice(client, keys)
    bob = await _alice(client, keys, name="bob")
    assert await agents.presence(client, keys, alice.agent_id) == "offline"
    assert await agents.available_agents(client, keys) == []

    await agents.set_presence(client, keys, alice.agent_id, "available")
    await agents.set_presence(client, keys, bob.agent_id, "away")
    assert await agents.add_chat(client, keys, alice.agent_id, "CMP-1") == 1
    assert await agents.add_chat(client, keys, alice.agent_id, "CMP-2") == 2
    assert await agents.add_chat(client, keys, alice.agent_id, "CMP-2") == 2
    [available] = await agents.available_agents(client, keys)
    assert (available.agent_id, available.presence, available.load) == (alice.agent_id, "available", 2)
    assert available.idle_since > 0
    assert available.view().load == 2 and available.view().presence == "available"
    assert await agents.remove_chat(client, keys, alice.agent_id, "CMP-1") == 1

    # Queue claims count in the same load.
    await queue.enqueue(client, keys, QueueEntry("CMP-3", "conv-3", "en", "billing"))
    assert await queue.claim(client, keys, "CMP-3", alice.agent_id)
    assert (await agents.get_agent(client, keys, alice.agent_id)).load == 2

    with pytest.raises(ValueError):
        await agents.set_presence(client, keys, alice.agent_id, "sleeping")


@pytest.mark.asyncio
async def test_presence_with_a_heartbeat_ttl_lapses_to_offline(client, keys) -> None:
    alice = await _alice(client, keys)
    await agents.set_presence(client, keys, alice.agent_id, "available", ttl_s=1)
    assert await agents.presence(client, keys, alice.agent_id) == "available"
    await asyncio.sleep(1.3)
    assert await agents.presence(client, keys, alice.agent_id) == "offline"
    await agents.set_presence(client, keys, alice.agent_id, "busy")
    assert await client.ttl(keys.presence(alice.agent_id)) == -1


def _cli(redis_url: str, prefix: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "handoff.agents", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.asyncio
async def test_cli_creates_and_lists_agents(client, keys, redis_url) -> None:
    created = _cli(
        redis_url, keys.prefix,
        "create", "--name", "alice", "--password", PASSWORD, "--role", "agent",
        "--skills", "billing,refund", "--languages", "en,zh-Hans",
        "--may-approve-compensation", "--max-chats", "3",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created alice" in created.stdout
    from_stdin = _cli(
        redis_url, keys.prefix,
        "create", "--name", "sam", "--password-stdin", "--role", "supervisor", "--languages", "zh-Hant",
        stdin="another long secret\n",
    )  # fmt: skip
    assert from_stdin.returncode == 0, from_stdin.stderr
    duplicate = _cli(redis_url, keys.prefix, "create", "--name", "alice", "--password", PASSWORD, "--languages", "en")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    listed = _cli(redis_url, keys.prefix, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["alice", "sam"]
    assert "skills=billing,refund" in lines[0] and "may_approve_compensation=yes" in lines[0]
    assert "supervisor" in lines[1] and "skills=any" in lines[1]
    assert PASSWORD not in listed.stdout

    assert await agents.sign_in(client, keys, "sam", "another long secret") is not None
    alice = await agents.get_agent(client, keys, await agents.agent_id_by_name(client, keys, "alice"))
    assert alice.max_chats == 3 and alice.may_approve_compensation
