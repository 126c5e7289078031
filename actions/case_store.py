"""Complaint cases in Redis: create with a unique number, read, and verify ownership."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import redis.asyncio as aioredis

from actions.parsing import normalize_contact
from actions.settings import Settings
from handoff.keys import Keys

CASE_STATUSES = ("open", "in_progress", "needs_human", "resolved", "closed")


@dataclass
class NewCase:
    """What the conversation collected; the store adds the number and timestamps."""

    sender_id: str
    channel: str
    language: str
    category: str
    description: str
    order_ref: str = "-"
    incident_date: str = "-"
    desired_outcome: str = "explanation"
    contact: str = ""
    status: str = "open"
    urgent: bool = False
    abuse_flagged: bool = False
    escalation_reasons: List[str] = field(default_factory=list)
    frustration: float = 0.0


class CaseStore:
    """Reads and writes cases; one instance per process, sharing a connection pool."""

    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.key_prefix)

    @classmethod
    def from_settings(cls, settings: Settings) -> CaseStore:
        """Connect lazily to the Redis named in the settings."""
        return cls(aioredis.from_url(settings.redis_url, decode_responses=True), settings)

    async def create(self, case: NewCase, now: Optional[datetime] = None) -> Dict[str, str]:
        """Store a new case and return it; the number is unique under any concurrency."""
        now = now or datetime.now(timezone.utc)
        day = now.strftime("%Y%m%d")
        sequence = await self.client.incr(self.keys.case_sequence(day))
        case_id = f"CMP-{day}-{sequence:04d}"
        hours = self.settings.urgent_response_hours if case.urgent else self.settings.response_hours
        record = _flatten(asdict(case))
        record.update(
            case_id=case_id,
            contact_normalized=normalize_contact(case.contact) or "",
            created_at=now.isoformat(timespec="seconds"),
            updated_at=now.isoformat(timespec="seconds"),
            response_due=(now + timedelta(hours=hours)).isoformat(timespec="seconds"),
            response_hours=str(hours),
            transcript_ref=self.keys.tracker(case.sender_id),
        )
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.case(case_id), mapping=record)
            pipe.rpush(self.keys.cases_of_sender(case.sender_id), case_id)
            await pipe.execute()
        return record

    async def get(self, case_id: str) -> Optional[Dict[str, str]]:
        """The stored case, or None."""
        record = await self.client.hgetall(self.keys.case(case_id))
        return record or None

    async def find_owned(self, case_id: str, contact: str) -> Optional[Dict[str, str]]:
        """The case only when the contact matches the one on it; None reveals nothing."""
        given = normalize_contact(contact)
        record = await self.get(case_id)
        if not record or not given or record.get("contact_normalized") != given:
            return None
        return record

    async def flag(self, case_id: str, **fields: Any) -> None:
        """Update some fields of an existing case."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        await self.client.hset(
            self.keys.case(case_id), mapping={**_flatten(fields), "updated_at": now}
        )

    async def count_status_attempt(self, sender_id: str) -> int:
        """Count one status look-up; the counter resets after an hour."""
        key = self.keys.status_attempts(sender_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 3600, nx=True)
            attempts, _ = await pipe.execute()
        return int(attempts)


def _flatten(values: Dict[str, Any]) -> Dict[str, str]:
    """Redis hashes hold strings: lists as JSON, booleans as 0/1."""
    flat: Dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            flat[key] = "1" if value else "0"
        elif isinstance(value, (list, dict)):
            flat[key] = json.dumps(value, ensure_ascii=False)
        else:
            flat[key] = "" if value is None else str(value)
    return flat
