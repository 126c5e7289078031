"""Routing rules, pure: who may take a case and who gets it."""

from __future__ import annotations

from handoff.queue import QueueEntry
from handoff.routing import AgentView, can_take, choose_agent


def _entry(**fields) -> QueueEntry:
    values = dict(case_id="CMP-1", conversation_id="conv-1", language="en", skills_needed="billing", enqueued_at=0.0)
    values.update(fields)
    return QueueEntry(**values)


def _agent(agent_id: str, **fields) -> AgentView:
    values = dict(
        agent_id=agent_id,
        languages=frozenset({"en"}),
        skills=frozenset({"billing"}),
        max_chats=3,
        presence="available",
    )
    values.update(fields)
    return AgentView(**values)


def test_nobody_means_none() -> None:
    assert choose_agent(_entry(), []) is None


def test_only_available_agents() -> None:
    for presence in ("busy", "away", "offline"):
        assert choose_agent(_entry(), [_agent("a", presence=presence)]) is None
    assert choose_agent(_entry(), [_agent("a", presence="away"), _agent("b")]).agent_id == "b"


def test_language_must_match() -> None:
    chinese = _agent("zh", languages=frozenset({"zh-Hans", "zh-Hant"}))
    assert choose_agent(_entry(language="en"), [chinese]) is None
    assert choose_agent(_entry(language="zh-Hant"), [chinese]).agent_id == "zh"
    assert choose_agent(_entry(language="zh-Hans"), [_agent("en"), chinese]).agent_id == "zh"


def test_skill_must_match_or_be_any() -> None:
    entry = _entry(skills_needed="delivery")
    assert choose_agent(entry, [_agent("billing")]) is None
    assert choose_agent(entry, [_agent("billing"), _agent("any", skills=frozenset({"any"}))]).agent_id == "any"
    assert choose_agent(entry, [_agent("d", skills=frozenset({"billing", "delivery"}))]).agent_id == "d"


def test_authority_only_where_needed() -> None:
    junior, senior = _agent("junior"), _agent("senior", may_approve_compensation=True, load=2)
    assert choose_agent(_entry(needs_authority=True), [junior]) is None
    assert choose_agent(_entry(needs_authority=True), [junior, senior]).agent_id == "senior"
    assert choose_agent(_entry(), [junior, senior]).agent_id == "junior"  # less busy wins otherwise


def test_agents_at_their_cap_get_nothing() -> None:
    full = _agent("full", max_chats=2, load=2)
    assert choose_agent(_entry(), [full]) is None
    assert choose_agent(_entry(), [full, _agent("room", max_chats=2, load=1)]).agent_id == "room"


def test_least_busy_then_longest_idle_then_id() -> None:
    busy = _agent("a-busy", load=2, idle_since=1.0)
    recent = _agent("b-recent", load=1, idle_since=500.0)
    idle = _agent("c-idle", load=1, idle_since=100.0)
    assert choose_agent(_entry(), [busy, recent, idle]).agent_id == "c-idle"
    twin_1, twin_2 = _agent("z", load=1, idle_since=100.0), _agent("y", load=1, idle_since=100.0)
    assert choose_agent(_entry(), [twin_1, twin_2]).agent_id == "y"
    assert choose_agent(_entry(), [twin_2, twin_1]).agent_id == "y"


def test_can_take_ignores_presence_and_load() -> None:
    away_and_full = _agent("a", presence="away", load=3)
    assert can_take(_entry(), away_and_full)
    assert not can_take(_entry(language="zh-Hans"), away_and_full)
