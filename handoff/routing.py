"""Choosing the agent for a case: pure rules over a snapshot of the agents (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, List, Optional

from handoff.queue import QueueEntry

ANY_SKILL = "any"


@dataclass(frozen=True)
class AgentView:
    """What routing needs to know about one agent at one moment."""

    agent_id: str
    languages: FrozenSet[str]
    skills: FrozenSet[str]
    may_approve_compensation: bool = False
    max_chats: int = 1
    load: int = 0
    presence: str = "offline"
    idle_since: float = 0.0  # epoch seconds of the last chat given to or taken from them


def can_take(entry: QueueEntry, agent: AgentView) -> bool:
    """Whether the agent may handle the case at all (language, skill, authority), ignoring load."""
    return (
        entry.language in agent.languages
        and (ANY_SKILL in agent.skills or entry.skills_needed in agent.skills)
        and (agent.may_approve_compensation or not entry.needs_authority)
    )


def choose_agent(entry: QueueEntry, agents: List[AgentView]) -> Optional[AgentView]:
    """The available, qualified agent with room: least busy, then longest idle, then by id."""
    candidates = [
        agent
        for agent in agents
        if agent.presence == "available" and agent.load < agent.max_chats and can_take(entry, agent)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda agent: (agent.load, agent.idle_since, agent.agent_id))
