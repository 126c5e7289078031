"""The enriched case an agent sees in `offer` and `assigned` (PROTOCOL.md), built from Redis.

`build_case` is pure: it merges the case hash written by the action server (with its
optional "enriched" JSON field), the queue entry and the transcript, filling sensible
defaults for whatever is missing. `load_case` does the reading.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import redis.asyncio as aioredis

from handoff import conversation_log
from handoff import queue as handoff_queue
from handoff.conversation_log import LogEntry
from handoff.keys import Keys
from handoff.queue import QueueEntry

TRANSCRIPT_ENTRIES = 200
SUMMARY_CHARS = 200
FIELD_NAMES = ("description", "order_ref", "incident_date", "desired_outcome", "contact")


def iso(ts: float) -> str:
    """Epoch seconds as an ISO 8601 UTC time."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


def entry_dict(entry: LogEntry) -> Dict[str, Any]:
    """A log entry as the console shows it in a transcript."""
    row: Dict[str, Any] = {"id": entry.id, "author": entry.author, "text": entry.text, "at": iso(entry.ts)}
    if entry.kind != "message":
        row["kind"] = entry.kind
    for name in ("agent_name", "client_id", "buttons"):
        if entry.extra.get(name):
            row[name] = entry.extra[name]
    return row


def _json(raw: Optional[str], default: Any) -> Any:
    """Parsed JSON, or the default when absent or broken."""
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


def _float(raw: Any) -> Optional[float]:
    """A number, or None."""
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def build_case(
    case: Dict[str, str],
    entry: Optional[QueueEntry],
    transcript: List[LogEntry],
    case_id: str = "",
) -> Dict[str, Any]:
    """The enriched case of PROTOCOL.md."""
    extra = _json(case.get("enriched"), {})
    extra = extra if isinstance(extra, dict) else {}
    fields = {name: case.get(name) or None for name in FIELD_NAMES}
    contact = fields["contact"]
    given = extra.get("customer")
    customer: Dict[str, Any] = {"contact": contact, "value_tier": "standard", "past_cases": []}
    if isinstance(given, dict):
        customer.update(given)
    reasons = extra.get("reasons")
    if not isinstance(reasons, list):
        reasons = _json(case.get("escalation_reasons"), [])
    frustration = extra.get("frustration", extra.get("frustration_trajectory"))
    if not isinstance(frustration, list):
        single = _float(case.get("frustration"))
        frustration = [single] if single is not None else []
    description = fields["description"] or ""
    summary = extra.get("summary") or (description[:SUMMARY_CHARS] if description else "")
    priority = extra.get("priority", entry.priority if entry else 0)
    emergency = extra.get("emergency", entry.emergency if entry else case.get("urgent") == "1")
    needs_authority = extra.get("needs_authority", entry.needs_authority if entry else False)
    built: Dict[str, Any] = {
        "case_id": case.get("case_id") or (entry.case_id if entry else case_id),
        "conversation_id": (entry.conversation_id if entry else None) or case.get("sender_id") or "",
        "channel": case.get("channel") or "webchat",
        "language": case.get("language") or (entry.language if entry else "en"),
        "category": case.get("category") or (entry.skills_needed if entry else "other"),
        "status": case.get("status") or "needs_human",
        "fields": fields,
        "customer": customer,
        "reasons": [str(reason) for reason in reasons] if isinstance(reasons, list) else [],
        "frustration": frustration,
        "summary": summary,
        "priority": priority,
        "emergency": bool(emergency),
        "needs_authority": bool(needs_authority),
        "sla_due": extra.get("sla_due") or case.get("response_due") or None,
        "transcript": [entry_dict(row) for row in transcript],
    }
    if entry is not None:
        built["enqueued_at"] = iso(entry.enqueued_at)
    if case.get("transfer_note"):
        built["transfer_note"] = case["transfer_note"]
    return built


async def load_case(client: aioredis.Redis, keys: Keys, case_id: str) -> Dict[str, Any]:
    """Read everything the enriched case of one case needs and build it."""
    case: Dict[str, str] = await client.hgetall(keys.case(case_id))
    entry = await handoff_queue.entry(client, keys, case_id)
    conversation_id = (entry.conversation_id if entry else None) or case.get("sender_id") or ""
    transcript = (
        await conversation_log.read_after(client, keys, conversation_id, "0-0", TRANSCRIPT_ENTRIES)
        if conversation_id
        else []
    )
    return build_case(case, entry, transcript, case_id)


def summary_row(entry: QueueEntry, case: Dict[str, str], now: float) -> Dict[str, Any]:
    """One waiting case as the queue view lists it."""
    extra = _json(case.get("enriched"), {})
    extra = extra if isinstance(extra, dict) else {}
    description = case.get("description") or ""
    return {
        "case_id": entry.case_id,
        "conversation_id": entry.conversation_id,
        "language": entry.language,
        "category": case.get("category") or entry.skills_needed,
        "priority": entry.priority,
        "emergency": entry.emergency,
        "waiting_seconds": round(entry.waiting_seconds(now), 1),
        "summary": extra.get("summary") or description[:SUMMARY_CHARS],
    }
