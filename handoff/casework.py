"""What agents do with cases (offer, accept, pick, resolve, hand back, transfer), over Redis only.

No sockets here: the bridge calls these and turns a `CaseError` into an `error` frame.
Every step that two bridges could race on is atomic in Redis: a queue claim, release,
requeue or transfer checks who holds the case in one script, and ownership moves check
the state they move from. Frames for agents go through their inbox streams
(handoff.relay.publish), so they reach the agent on whichever bridge they are connected.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import redis.asyncio as aioredis

from handoff import agents as agent_store
from handoff import conversation_log, ownership, protocol
from handoff import queue as handoff_queue
from handoff.agents import Agent
from handoff.enriched import iso, load_case
from handoff.keys import Keys
from handoff.notices import Notices
from handoff.ownership import AGENT, CLOSED, HANDED_BACK, OFFERED, QUEUED, TransitionRefused
from handoff.queue import QueueEntry
from handoff.relay import nudge, publish
from handoff.settings import HandoffSettings

log = logging.getLogger(__name__)

# An agent who declined (or let lapse) an offer is not offered that case again for this long.
DECLINED_TTL_S = 300

_PLACE_OFFER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'agent_id', ARGV[1], 'expires_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


class CaseError(Exception):
    """An agent's request that cannot be done; `code` is a protocol error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _now_iso() -> str:
    """The current UTC time in ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Casework:
    """The case operations, bound to one Redis, key prefix, settings and notices file."""

    def __init__(self, client: aioredis.Redis, keys: Keys, settings: HandoffSettings, notices: Notices) -> None:
        self.client = client
        self.keys = keys
        self.settings = settings
        self.notices = notices

    # --- helpers ---

    async def language_of(self, case_id: str, entry: Optional[QueueEntry] = None) -> str:
        """The conversation's language, from the case hash (written by the action server)."""
        language = await self.client.hget(self.keys.case(case_id), "language")
        return str(language or (entry.language if entry else "") or "en")

    async def notify(
        self, entry: QueueEntry, response: str, kind: str, language: str, **values: Any
    ) -> str:
        """Append a system notice for the customer, rendered in their language."""
        notice = self.notices.render(response, language, **values)
        extra: Dict[str, Any] = {"response": response}
        if notice.buttons:
            extra["buttons"] = json.dumps(notice.buttons, ensure_ascii=False)
        return await conversation_log.append(
            self.client, self.keys, entry.conversation_id, "system", notice.text, kind=kind, **extra
        )

    async def entry_or_fail(self, case_id: str) -> QueueEntry:
        """The queue entry of a waiting or held case, or not_found."""
        entry = await handoff_queue.entry(self.client, self.keys, case_id)
        if entry is None:
            raise CaseError("not_found", f"no case {case_id} is waiting or held")
        return entry

    async def owned_conversation(self, agent_id: str, conversation_id: str) -> ownership.OwnerState:
        """The owner state when this agent holds the conversation, else not_yours."""
        state = await ownership.current(self.client, self.keys, conversation_id)
        if state.state != AGENT or state.agent_id != agent_id:
            raise CaseError("not_yours", f"you do not hold conversation {conversation_id}")
        return state

    async def is_connected(self, agent_id: str) -> bool:
        """Whether the agent has an open console on any bridge."""
        return await self.client.zcount(self.keys.agent_connections(agent_id), time.time(), "+inf") > 0

    async def _withdraw_other_offer(self, case_id: str, agent_id: str) -> None:
        """Drop the pending offer of a case; tell the agent it was for, unless that is agent_id."""
        offered_to = await self.client.hget(self.keys.offer(case_id), "agent_id")
        await self.client.delete(self.keys.offer(case_id), self.keys.declined(case_id))
        if offered_to and offered_to != agent_id:
            await publish(self.client, self.keys, offered_to, protocol.offer_withdrawn(case_id, "taken"))

    # --- offers (run by the bridge's offer loop) ---

    async def offer_to(self, entry: QueueEntry, agent_id: str) -> bool:
        """Offer a waiting case to an agent until the offer times out; False if it was not possible."""
        expires = time.time() + self.settings.offer_timeout_s
        script = self.client.register_script(_PLACE_OFFER)
        placed = await script(
            keys=[self.keys.offer(entry.case_id)],
            args=[agent_id, repr(expires), int(self.settings.offer_timeout_s * 1000)],
        )
        if not int(placed):
            return False
        try:
            await ownership.transition(
                self.client, self.keys, entry.conversation_id, OFFERED,
                expected_from={QUEUED}, agent_id=agent_id, case_id=entry.case_id,
            )
        except TransitionRefused:
            await self.client.delete(self.keys.offer(entry.case_id))
            return False
        case = await load_case(self.client, self.keys, entry.case_id)
        await publish(self.client, self.keys, agent_id, protocol.offer(case, iso(expires)))
        return True

    async def expire_offer(self, entry: QueueEntry, agent_id: Optional[str]) -> None:
        """An offer that lapsed: the case waits again and goes to someone else next."""
        try:
            await ownership.transition(
                self.client, self.keys, entry.conversation_id, QUEUED,
                expected_from={OFFERED}, reason="offer_timeout",
            )
        except TransitionRefused:
            return
        if agent_id:
            await self._remember_decline(entry.case_id, agent_id)
            await publish(self.client, self.keys, agent_id, protocol.offer_withdrawn(entry.case_id, "timeout"))

    async def _remember_decline(self, case_id: str, agent_id: str) -> None:
        """Do not offer this case to this agent again for a while."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.sadd(self.keys.declined(case_id), agent_id)
            pipe.expire(self.keys.declined(case_id), DECLINED_TTL_S)
            await pipe.execute()

    async def pending_offers(self, agent_id: str) -> List[Dict[str, Any]]:
        """`offer` frames of the offers standing for an agent now (for a console that reconnects)."""
        frames: List[Dict[str, Any]] = []
        for entry in await handoff_queue.list_waiting(self.client, self.keys, 100):
            offer = await self.client.hgetall(self.keys.offer(entry.case_id))
            if offer.get("agent_id") == agent_id:
                case = await load_case(self.client, self.keys, entry.case_id)
                frames.append(protocol.offer(case, iso(float(offer.get("expires_at") or time.time()))))
        return frames

    # --- taking a case ---

    async def accept(self, agent: Agent, case_id: str) -> Dict[str, Any]:
        """Take a case offered to this agent; returns the enriched case."""
        entry = await self.entry_or_fail(case_id)
        state = await ownership.current(self.client, self.keys, entry.conversation_id)
        if state.state == AGENT:
            raise CaseError("already_taken", f"{case_id} is already taken")
        if state.state != OFFERED or state.agent_id != agent.agent_id:
            raise CaseError("not_found", f"no offer of {case_id} stands for you")
        return await self._take(agent, entry, how="accepted")

    async def pick(self, agent: Agent, case_id: str) -> Dict[str, Any]:
        """Take a waiting case from the queue view; returns the enriched case."""
        entry = await self.entry_or_fail(case_id)
        state = await ownership.current(self.client, self.keys, entry.conversation_id)
        if state.state == AGENT:
            raise CaseError("already_taken", f"{case_id} is already taken")
        if state.state not in (QUEUED, OFFERED):
            raise CaseError("not_found", f"{case_id} is not waiting")
        return await self._take(agent, entry, how="picked")

    async def _take(self, agent: Agent, entry: QueueEntry, how: str) -> Dict[str, Any]:
        """Claim atomically, then make the agent the owner and tell the customer."""
        fresh = await agent_store.get_agent(self.client, self.keys, agent.agent_id) or agent
        if not await handoff_queue.claim(self.client, self.keys, entry.case_id, agent.agent_id, fresh.max_chats):
            if await self.client.zscore(self.keys.queue(), entry.case_id) is not None:
                raise CaseError("over_capacity", f"you already hold {fresh.max_chats} chats")
            raise CaseError("already_taken", f"{entry.case_id} was taken by someone else")
        try:
            await ownership.transition(
                self.client, self.keys, entry.conversation_id, AGENT,
                expected_from={OFFERED, QUEUED}, agent_id=agent.agent_id, case_id=entry.case_id, how=how,
            )
        except TransitionRefused as refused:
            await handoff_queue.requeue(self.client, self.keys, entry.case_id, agent.agent_id)
            raise CaseError("not_found", f"{entry.case_id} no longer waits ({refused.current})") from None
        await self._withdraw_other_offer(entry.case_id, agent.agent_id)
        await agent_store.add_chat(self.client, self.keys, agent.agent_id, entry.case_id)
        await self.client.hset(
            self.keys.case(entry.case_id),
            mapping={
                "status": "in_progress",
                "agent_id": agent.agent_id,
                "agent_name": agent.name,
                "assigned_at": repr(time.time()),
                "updated_at": _now_iso(),
            },
        )
        language = await self.language_of(entry.case_id, entry)
        await self.notify(entry, "utter_agent_joined", "agent_joined", language, agent_name=agent.name)
        await nudge(self.client, self.keys, agent.agent_id)
        return await load_case(self.client, self.keys, entry.case_id)

    async def decline(self, agent: Agent, case_id: str) -> None:
        """Turn an offer down; it goes to the next agent."""
        entry = await self.entry_or_fail(case_id)
        state = await ownership.current(self.client, self.keys, entry.conversation_id)
        if state.state != OFFERED or state.agent_id != agent.agent_id:
            raise CaseError("not_found", f"no offer of {case_id} stands for you")
        await self._remember_decline(case_id, agent.agent_id)
        # If it timed out or was taken meanwhile, it is no longer ours either way.
        with contextlib.suppress(TransitionRefused):
            await ownership.transition(
                self.client, self.keys, entry.conversation_id, QUEUED,
                expected_from={OFFERED}, reason="declined", declined_by=agent.agent_id,
            )
        await self.client.delete(self.keys.offer(case_id))
        await publish(self.client, self.keys, agent.agent_id, protocol.offer_withdrawn(case_id, "declined"))

    # --- finishing a case ---

    async def _let_go(self, agent: Agent, case_id: str) -> QueueEntry:
        """Release a held case from this agent (atomically checked), or not_yours."""
        entry = await self.entry_or_fail(case_id)
        if not await handoff_queue.release(self.client, self.keys, case_id, agent.agent_id):
            raise CaseError("not_yours", f"you do not hold {case_id}")
        await agent_store.remove_chat(self.client, self.keys, agent.agent_id, case_id)
        await self._record_handle_time(case_id)
        return entry

    async def _record_handle_time(self, case_id: str) -> None:
        """How long the agent had the case, for the wait estimates."""
        assigned_at = await self.client.hget(self.keys.case(case_id), "assigned_at")
        try:
            seconds = time.time() - float(assigned_at) if assigned_at else None
        except ValueError:
            seconds = None
        if seconds is not None and seconds >= 0:
            await handoff_queue.record_handle_time(self.client, self.keys, seconds)

    async def _move(self, entry: QueueEntry, to_state: str, **fields: Any) -> None:
        """Change the owner of a conversation the agent held; a refusal is logged, not raised."""
        try:
            await ownership.transition(
                self.client, self.keys, entry.conversation_id, to_state, expected_from={AGENT}, **fields
            )
        except TransitionRefused as refused:
            log.warning("case %s: owner was %s, not agent, when moving to %s", entry.case_id, refused.current, to_state)

    async def resolve(self, agent: Agent, case_id: str, code: str, note: str) -> None:
        """Close a case with a resolution; the customer is told."""
        entry = await self._let_go(agent, case_id)
        await self._move(entry, CLOSED, reason="resolved", resolution_code=code)
        await self.client.hset(
            self.keys.case(case_id),
            mapping={
                "status": "resolved",
                "resolution_code": code,
                "resolution_note": note,
                "resolved_at": _now_iso(),
                "resolved_by": agent.agent_id,
                "resolved_by_name": agent.name,
                "updated_at": _now_iso(),
            },
        )
        language = await self.language_of(case_id, entry)
        await self.notify(entry, "utter_case_resolved", "resolved", language, case_id=case_id)
        await publish(self.client, self.keys, agent.agent_id, protocol.case_closed(case_id, "resolved"))

    async def hand_back(self, agent: Agent, case_id: str, note: str) -> None:
        """Give the conversation back to the bot, which asks for a rating."""
        entry = await self._let_go(agent, case_id)
        await self._move(entry, HANDED_BACK, reason="handed_back", by=agent.agent_id)
        await self.client.hset(
            self.keys.case(case_id),
            mapping={"status": "handed_back", "handback_note": note, "handed_back_at": _now_iso(),
                     "updated_at": _now_iso()},
        )
        language = await self.language_of(case_id, entry)
        await self.notify(entry, "utter_handed_back", "handed_back", language)
        await self.notify(entry, "utter_ask_csat", "csat_request", language)
        await publish(self.client, self.keys, agent.agent_id, protocol.case_closed(case_id, "handed_back"))

    async def transfer(self, agent: Agent, case_id: str, to_agent_id: Optional[str], note: str) -> None:
        """Hand a held case to another agent, or back to the queue at its old place."""
        if to_agent_id is None:
            await self._transfer_to_queue(agent, case_id, note)
            return
        if to_agent_id == agent.agent_id:
            raise CaseError("invalid_field", "you cannot transfer a case to yourself")
        target = await agent_store.get_agent(self.client, self.keys, to_agent_id)
        if target is None:
            raise CaseError("not_found", f"no agent {to_agent_id}")
        if not await self.is_connected(target.agent_id):
            raise CaseError("forbidden", f"{target.name} is not online")
        if target.load >= target.max_chats:
            raise CaseError("over_capacity", f"{target.name} already holds {target.max_chats} chats")
        entry = await self.entry_or_fail(case_id)
        if not await handoff_queue.transfer(self.client, self.keys, case_id, agent.agent_id, target.agent_id):
            raise CaseError("not_yours", f"you do not hold {case_id}")
        await self._move(
            entry, AGENT, agent_id=target.agent_id, reason="transfer", from_agent=agent.agent_id, note=note
        )
        await agent_store.remove_chat(self.client, self.keys, agent.agent_id, case_id)
        await agent_store.add_chat(self.client, self.keys, target.agent_id, case_id)
        await self.client.hset(
            self.keys.case(case_id),
            mapping={"agent_id": target.agent_id, "agent_name": target.name, "transferred_from": agent.agent_id,
                     "transfer_note": note, "updated_at": _now_iso()},
        )
        language = await self.language_of(case_id, entry)
        await self.notify(entry, "utter_agent_left", "agent_left", language)
        await self.notify(entry, "utter_agent_joined", "agent_joined", language, agent_name=target.name)
        await publish(self.client, self.keys, agent.agent_id, protocol.case_closed(case_id, "transferred"))
        await nudge(self.client, self.keys, target.agent_id)

    async def _transfer_to_queue(self, agent: Agent, case_id: str, note: str) -> None:
        """Back to the queue, keeping the case's place; someone else is offered it."""
        entry = await self.entry_or_fail(case_id)
        if not await handoff_queue.requeue(self.client, self.keys, case_id, agent.agent_id):
            raise CaseError("not_yours", f"you do not hold {case_id}")
        await self._move(entry, QUEUED, reason="transfer_to_queue", from_agent=agent.agent_id, note=note)
        await agent_store.remove_chat(self.client, self.keys, agent.agent_id, case_id)
        await self._remember_decline(case_id, agent.agent_id)
        await self.client.hset(
            self.keys.case(case_id),
            mapping={"status": "needs_human", "transfer_note": note, "transferred_from": agent.agent_id,
                     "updated_at": _now_iso()},
        )
        language = await self.language_of(case_id, entry)
        await self.notify(entry, "utter_agent_left", "agent_left", language)
        await publish(self.client, self.keys, agent.agent_id, protocol.case_closed(case_id, "transferred"))

    async def requeue_chats(self, agent_id: str) -> List[str]:
        """An agent who is gone for good: every chat they held waits again at its old place."""
        moved: List[str] = []
        for case_id in sorted(await self.client.smembers(self.keys.agent_load(agent_id))):
            entry = await handoff_queue.entry(self.client, self.keys, case_id)
            if entry is None or not await handoff_queue.requeue(self.client, self.keys, case_id, agent_id):
                await agent_store.remove_chat(self.client, self.keys, agent_id, case_id)  # a stale member
                continue
            await self._move(entry, QUEUED, reason="agent_gone", from_agent=agent_id)
            await agent_store.remove_chat(self.client, self.keys, agent_id, case_id)
            await self.client.hset(self.keys.case(case_id), mapping={"status": "needs_human",
                                                                     "updated_at": _now_iso()})
            language = await self.language_of(case_id, entry)
            await self.notify(entry, "utter_agent_left", "agent_left", language)
            moved.append(case_id)
        return moved

    # --- callbacks ---

    async def callbacks_due(self, horizon_s: float = 24 * 3600, limit: int = 200) -> List[Dict[str, Any]]:
        """Promised callbacks not yet made that are due within the horizon, overdue ones flagged."""
        now = time.time()
        rows = await self.client.zrangebyscore(
            self.keys.callbacks(), "-inf", now + horizon_s, start=0, num=limit, withscores=True
        )
        if not rows:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for case_id, _ in rows:
                pipe.hgetall(self.keys.callback(case_id))
            details = await pipe.execute()
        due: List[Dict[str, Any]] = []
        for (case_id, score), detail in zip(rows, details, strict=True):
            if detail.get("status") == "done":
                continue
            due.append(
                {
                    "case_id": case_id,
                    "due_at": detail.get("due_at") or iso(float(score)),
                    "contact": detail.get("contact", ""),
                    "language": detail.get("language", "en"),
                    "overdue": float(score) < now,
                }
            )
        return due

    async def callback_done(self, agent: Agent, case_id: str, note: str) -> None:
        """Mark a promised callback as made."""
        key = self.keys.callback(case_id)
        if not await self.client.exists(key):
            raise CaseError("not_found", f"no callback was promised for {case_id}")
        await self.client.hset(
            key, mapping={"status": "done", "done_at": _now_iso(), "done_by": agent.agent_id, "note": note}
        )
