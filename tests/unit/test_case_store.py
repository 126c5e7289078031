"""Complaint cases in a real Redis: numbering, stored fields, ownership, rate limiting."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import pytest

from actions.case_store import NewCase

CASE_ID = re.compile(r"^CMP-(\d{8})-(\d{4,})$")


def _case(sender: str, **fields) -> NewCase:
    values = dict(
        sender_id=sender,
        channel="rest",
        language="zh-Hans",
        category="product_quality",
        description="洗衣机用了两天就坏了",
        order_ref="ZZ555666",
        incident_date="昨天",
        desired_outcome="replacement",
        contact="13812345678",
    )
    values.update(fields)
    return NewCase(**values)


@pytest.mark.asyncio
async def test_create_stores_every_field(store, raw_redis, redis_env, new_sender) -> None:
    sender = new_sender("create")
    now = datetime(2031, 3, 4, 9, 30, 15, tzinfo=timezone.utc)
    record = await store.create(_case(sender), now=now)

    match = CASE_ID.match(record["case_id"])
    assert match, record["case_id"]
    assert match.group(1) == "20310304"
    assert len(match.group(2)) == 4 and match.group(2).startswith("0")

    stored = raw_redis.hgetall(f"{redis_env['prefix']}:case:{record['case_id']}")
    assert stored == record
    assert stored["channel"] == "rest"
    assert stored["language"] == "zh-Hans"
    assert stored["category"] == "product_quality"
    assert stored["description"] == "洗衣机用了两天就坏了"
    assert stored["order_ref"] == "ZZ555666"
    assert stored["incident_date"] == "昨天"
    assert stored["desired_outcome"] == "replacement"
    assert stored["contact"] == "13812345678"
    assert stored["contact_normalized"] == "+8613812345678"
    assert stored["status"] == "open"
    assert stored["urgent"] == "0"
    assert stored["abuse_flagged"] == "0"
    assert stored["created_at"] == now.isoformat(timespec="seconds")
    assert stored["updated_at"] == stored["created_at"]
    hours = store.settings.response_hours
    assert stored["response_hours"] == str(hours)
    due = datetime.fromisoformat(stored["response_due"])
    assert due - datetime.fromisoformat(stored["created_at"]) == timedelta(hours=hours)
    assert stored["transcript_ref"] == f"{redis_env['prefix']}:tracker:{sender}"
    assert raw_redis.lrange(f"{redis_env['prefix']}:sender_cases:{sender}", 0, -1) == [record["case_id"]]


@pytest.mark.asyncio
async def test_sequence_counts_up_per_day(store) -> None:
    day = datetime(2031, 5, 6, 12, 0, tzinfo=timezone.utc)
    first = await store.create(_case("seq-a"), now=day)
    second = await store.create(_case("seq-b"), now=day)
    other_day = await store.create(_case("seq-c"), now=day + timedelta(days=1))
    assert first["case_id"] == "CMP-20310506-0001"
    assert second["case_id"] == "CMP-20310506-0002"
    assert other_day["case_id"] == "CMP-20310507-0001"


@pytest.mark.asyncio
async def test_hundred_parallel_creates_get_distinct_numbers(store, raw_redis, redis_env) -> None:
    day = datetime(2031, 7, 8, 10, 0, tzinfo=timezone.utc)
    records = await asyncio.gather(*(store.create(_case(f"par-{n}"), now=day) for n in range(100)))
    ids = {record["case_id"] for record in records}
    assert len(ids) == 100
    assert all(CASE_ID.match(case_id) for case_id in ids)
    stored = [raw_redis.hgetall(f"{redis_env['prefix']}:case:{case_id}") for case_id in ids]
    assert all(record.get("case_id") for record in stored)
    assert {record["case_id"] for record in stored} == ids
    assert {record["sender_id"] for record in stored} == {f"par-{n}" for n in range(100)}


@pytest.mark.asyncio
async def test_find_owned_accepts_the_contact_in_another_format(store) -> None:
    record = await store.create(_case("owner", contact="13812345678"))
    found = await store.find_owned(record["case_id"], "+86 138-1234-5678")
    assert found is not None and found["case_id"] == record["case_id"]


@pytest.mark.asyncio
async def test_find_owned_with_an_email(store) -> None:
    record = await store.create(_case("owner-mail", contact="Zhang.Wei@Example.com"))
    assert await store.find_owned(record["case_id"], "zhang.wei@example.com") is not None
    assert await store.find_owned(record["case_id"], "li.na@example.com") is None


@pytest.mark.asyncio
@pytest.mark.parametrize("contact", ["13812345679", "+852 9123 4567", "zhang@qq.com", "", "not a contact"])
async def test_find_owned_with_a_wrong_contact_reveals_nothing(store, contact: str) -> None:
    record = await store.create(_case("victim", contact="13812345678"))
    assert await store.find_owned(record["case_id"], contact) is None


@pytest.mark.asyncio
async def test_find_owned_with_a_wrong_id_reveals_nothing(store) -> None:
    await store.create(_case("victim2", contact="13812345678"))
    assert await store.find_owned("CMP-19990101-0001", "13812345678") is None
    assert await store.get("CMP-19990101-0001") is None


@pytest.mark.asyncio
async def test_case_without_contact_cannot_be_claimed_with_junk(store) -> None:
    record = await store.create(_case("no-contact", contact=""))
    assert await store.find_owned(record["case_id"], "") is None
    assert await store.find_owned(record["case_id"], "whatever") is None


@pytest.mark.asyncio
async def test_safety_case_gets_the_urgent_response_time(store) -> None:
    now = datetime(2031, 9, 10, 8, 0, tzinfo=timezone.utc)
    record = await store.create(_case("safety", category="safety", urgent=True), now=now)
    urgent_hours = store.settings.urgent_response_hours
    assert urgent_hours < store.settings.response_hours
    assert record["urgent"] == "1"
    assert record["response_hours"] == str(urgent_hours)
    assert datetime.fromisoformat(record["response_due"]) == now + timedelta(hours=urgent_hours)


@pytest.mark.asyncio
async def test_flag_updates_fields(store) -> None:
    record = await store.create(_case("flagged"), now=datetime(2020, 1, 1, tzinfo=timezone.utc))
    await store.flag(
        record["case_id"], status="needs_human", escalation_reasons=["customer_request"], abuse_flagged=True
    )
    stored = await store.get(record["case_id"])
    assert stored["status"] == "needs_human"
    assert stored["escalation_reasons"] == '["customer_request"]'
    assert stored["abuse_flagged"] == "1"
    assert stored["updated_at"] > stored["created_at"]
    assert stored["description"] == record["description"]


@pytest.mark.asyncio
async def test_count_status_attempt_increments_and_expires(store, raw_redis, redis_env, new_sender) -> None:
    sender = new_sender("status")
    assert [await store.count_status_attempt(sender) for _ in range(3)] == [1, 2, 3]
    ttl = raw_redis.ttl(f"{redis_env['prefix']}:status_attempts:{sender}")
    assert 0 < ttl <= 3600
    assert await store.count_status_attempt(new_sender("other")) == 1
