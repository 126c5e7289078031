"""A Chinese customer reaches a person and back, with nothing mocked.

The real Rasa server and action server (trained model in models/), Redis, the handoff
bridge and the agent console in Chromium: the agent signs in and is available; the
customer complains over the webchat WebSocket, asks for a person, is queued, the agent
accepts the offer, they chat (the bot stays out), the agent hands back and the customer
rates the help. Screenshots go to tests/artifacts/screenshots/full-handoff-*.png.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import redis

from handoff import agents as agent_store
from handoff import ownership
from handoff.keys import Keys
from tests.e2e.conftest import (
    AGENT_NAME,
    AGENT_PASSWORD,
    ARTIFACTS,
    ROOT,
    SCREENSHOTS,
    BridgeProcess,
    Customers,
    console_tab,
    free_port,
    run,
    wait_until,
)
from tests.e2e.stack_fixtures import CustomerSocket, HandoffStack, message_from, open_hours_around_now, state_is
from tests.support.redis_server import delete_prefix, unique_prefix

pytestmark = pytest.mark.stack

COMPLAINT = "我的退款申请被拒绝了，订单ZZ556677，我要退款"
ASK_FOR_PERSON = "转人工"
CUSTOMER_QUESTION = "你好，请问什么时候能退款？"
AGENT_REPLY = "您好，我是美玲。您的退款我已经在处理，预计三个工作日内到账。"
CASE_ID = re.compile(r"CMP-\d{8}-\d{4,}")
# The bot on two cores takes 5-20 s per reply; leave room.
REPLY_S = 90.0
BOT_QUIET_S = 3.0


@pytest.fixture(scope="module")
def handoff_stack(redis_server: Tuple[str, str]) -> Iterator[HandoffStack]:
    """Rasa + actions on their own key prefix, open for business now, offers that do not lapse."""
    if not list((ROOT / "models").glob("*.tar.gz")):
        pytest.fail("No trained model in models/: run ./scripts/test.sh, which trains it.")
    url = redis_server[0]
    prefix = unique_prefix()  # alphanumeric: Rasa's tracker and lock stores share it
    stack = HandoffStack(redis_url=url, prefix=prefix, extra_env={
        **open_hours_around_now(),
        "HANDOFF_OFFER_TIMEOUT_S": "180",
        "HANDOFF_RECONNECT_GRACE_S": "180",
    })
    try:
        stack.start_with_retries(ARTIFACTS / "full-handoff-logs")
        yield stack
    finally:
        stack.stop()
        delete_prefix(url, prefix)


@pytest.fixture(scope="module")
def handoff_bridge(handoff_stack: HandoffStack) -> Iterator[BridgeProcess]:
    """The bridge with the stack's very environment: same Redis, prefix and business hours."""
    env = handoff_stack.environment()
    env.update(HANDOFF_HOST="127.0.0.1", HANDOFF_PORT=str(free_port()))
    log_path = ARTIFACTS / "full-handoff-logs" / "bridge.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    process = BridgeProcess(env, int(env["HANDOFF_PORT"]), log_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def agent(handoff_stack: HandoffStack) -> Dict[str, str]:
    """An agent who speaks all three languages and takes any case, under the stack's prefix."""
    keys = Keys(handoff_stack.prefix)

    async def create(client: Any) -> agent_store.Agent:
        return await agent_store.create_agent(
            client, keys, AGENT_NAME, AGENT_PASSWORD, "agent",
            skills=["any", "refund"], languages=["en", "zh-Hans", "zh-Hant"], max_chats=3,
        )

    made = run(create, handoff_stack.redis_url)
    return {"name": AGENT_NAME, "password": AGENT_PASSWORD, "agent_id": made.agent_id}


@pytest.fixture
def console(browser: Any, handoff_bridge: BridgeProcess) -> Iterator[Any]:
    """The console in a fresh context at 1280 px; errors in the page fail the test."""
    with console_tab(browser, handoff_bridge.url, height=900, timeout_ms=15_000) as (tab, errors):
        yield tab
    assert not errors, f"errors in the console page: {errors}"


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot as tests/artifacts/screenshots/full-handoff-NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"full-handoff-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def bot_texts(frames: List[Dict[str, Any]]) -> str:
    """The texts of the bot's message frames, joined."""
    return "\n".join(str(frame.get("text") or "") for frame in frames if message_from("bot")(frame))


def test_customer_to_agent_and_back_in_simplified_chinese(
    console: Any, handoff_stack: HandoffStack, agent: Dict[str, str]
) -> None:
    page = console
    keys = Keys(handoff_stack.prefix)
    store = Customers(handoff_stack.redis_url, keys)
    cases = redis.Redis.from_url(handoff_stack.redis_url, decode_responses=True)

    # 1. The agent signs in and is available before anyone asks for a person.
    page.locator("#nw-signin-form").wait_for(state="visible")
    page.get_by_label("Name").fill(agent["name"])
    page.get_by_label("Password").fill(agent["password"])
    page.get_by_role("button", name="Sign in").click()
    page.locator("#nw-agent-name").wait_for(state="visible")
    page.get_by_label("Presence").select_option("available")
    wait_until(lambda: store.presence(agent["agent_id"]) == "available", what="the agent to be available")
    page.locator("#nw-conn").get_by_text("Connected").wait_for()
    shot(page, "01-signed-in")

    # 2. The customer opens a webchat session, complains, and asks for a person.
    session = handoff_stack.new_session()
    conversation_id = session["conversation_id"]
    customer = CustomerSocket(handoff_stack.socket_url(session["token"]))
    try:
        customer.send(type="resume", last_id="0-0")
        customer.wait_for(state_is("bot"), 20, "first state frame (owner bot)")

        mark = customer.mark()
        client_id = customer.say(COMPLAINT)
        customer.wait_for(lambda f: f.get("type") == "ack" and f.get("client_id") == client_id, 20, "ack", mark)
        customer.wait_for(
            lambda f: message_from("customer")(f) and f.get("client_id") == client_id, 20, "echo of the complaint", mark
        )
        customer.wait_for(message_from("bot"), REPLY_S, "bot reply to the complaint", mark)
        customer.quiet(BOT_QUIET_S)
        first_replies = bot_texts(customer.since(mark))
        assert re.search(r"[\u4e00-\u9fff]", first_replies), f"the bot answers in Chinese: {first_replies!r}"

        mark = customer.mark()
        customer.say(ASK_FOR_PERSON)
        queued = customer.wait_for(
            lambda f: message_from("bot")(f) and bool(CASE_ID.search(str(f.get("text") or ""))),
            REPLY_S, "queued notice with a case number", mark,
        )
        queued_text = str(queued["text"])
        case_id = CASE_ID.search(queued_text).group(0)  # type: ignore[union-attr]
        assert "案件编号" in queued_text, f"the queued notice is in Simplified Chinese: {queued_text!r}"
        assert re.search(r"第\s*\d+\s*位", queued_text), f"the notice gives a queue position: {queued_text!r}"
        customer.wait_for(
            lambda f: f.get("type") == "state" and f.get("owner") in {"queued", "offered"}, 20,
            "state frame queued/offered", mark,
        )
        record = cases.hgetall(keys.case(case_id))
        assert record.get("status") == "needs_human" and record.get("enriched"), record

        # 3. The console is offered the case with its summary; the agent accepts.
        offer = page.locator(f".nw-offer[data-case-id='{case_id}']")
        offer.wait_for(state="visible", timeout=30_000)
        summary = offer.locator(".nw-offer-summary").text_content() or ""
        assert "asked for a person" in summary, summary
        assert "ZZ556677" in summary, f"the summary names the order: {summary!r}"
        shot(page, "02-offer")
        mark = customer.mark()
        offer.get_by_role("button", name="Accept").click()
        offer.wait_for(state="detached")
        page.locator(f".nw-tab-button[data-case-id='{case_id}']").wait_for()
        joined = customer.wait_for(message_from("system", "agent_joined"), 20, "agent-joined notice", mark)
        assert agent["name"] in joined["text"] and "已加入对话" in joined["text"], joined
        customer.wait_for(state_is("agent"), 20, "state frame owner agent", mark)
        assert store.owner(conversation_id).state == ownership.AGENT
        messages = page.locator("#nw-messages")
        messages.get_by_text(COMPLAINT).wait_for()
        assert case_id in (page.locator("#nw-case-body").text_content() or "")
        shot(page, "03-accepted")

        # 4. The customer writes: the agent sees it, the bot stays out.
        mark = customer.mark()
        question_client_id = customer.say(CUSTOMER_QUESTION)
        echo = customer.wait_for(
            lambda f: message_from("customer")(f) and f.get("client_id") == question_client_id,
            20, "echo of the question", mark,
        )
        messages.get_by_text(CUSTOMER_QUESTION).wait_for()
        time.sleep(3.0)
        log = store.log(conversation_id)
        ids = [entry.id for entry in log]
        assert echo["id"] in ids
        after = log[ids.index(echo["id"]) + 1:]
        assert not [entry for entry in after if entry.author == "bot"], f"the bot answered: {after}"
        assert not [f for f in customer.since(mark) if message_from("bot")(f)], "no bot frame reached the customer"
        shot(page, "04-customer-question")

        # The agent types (not sent yet): the customer sees the typing indicator.
        composer = page.locator("#nw-composer-input")
        mark = customer.mark()
        composer.type(AGENT_REPLY, delay=20)
        customer.wait_for(
            lambda f: f.get("type") == "typing" and f.get("party") == "agent" and f.get("on") is True,
            15, "agent typing on", mark,
        )
        shot(page, "05-agent-typing")
        # Sent: the customer gets the words from the agent, and the indicator goes off.
        composer.press("Enter")
        reply = customer.wait_for(
            lambda f: message_from("agent")(f) and f.get("text") == AGENT_REPLY, 20, "the agent's reply", mark
        )
        assert reply["id"]
        customer.wait_for(
            lambda f: f.get("type") == "typing" and f.get("party") == "agent" and f.get("on") is False,
            15, "agent typing off", mark,
        )
        page.locator(f"#nw-messages li[data-author='agent'][data-id='{reply['id']}']").wait_for()
        assert page.locator("#nw-messages li.nw-msg--pending").count() == 0
        shot(page, "06-agent-replied")

        # 5. The agent hands back: the customer is told, and asked for a rating with buttons.
        section = page.locator("details:has(#nw-handback-form)")
        if section.get_attribute("open") is None:
            section.locator("summary").click()
        page.get_by_label("Hand-back note").fill("已告知退款时间，交回助手收集评分。")
        mark = customer.mark()
        page.locator("#nw-handback").click()
        back = customer.wait_for(message_from("system", "handed_back"), 20, "handed-back notice", mark)
        assert "智能助手" in back["text"], back
        csat = customer.wait_for(
            lambda f: message_from("system")(f) and bool(f.get("buttons")), 20, "CSAT question with buttons", mark
        )
        payloads = [button["payload"] for button in csat["buttons"]]
        assert '/rate{"rating":5}' in payloads, payloads
        assert re.search(r"[\u4e00-\u9fff]", csat["text"]), csat
        customer.wait_for(state_is("handed_back"), 20, "state frame owner handed_back", mark)
        page.locator("#nw-chat-state").get_by_text("Closed").wait_for()
        assert page.locator("#nw-composer-input").is_disabled()
        shot(page, "07-handed-back")

        # The customer rates 5: stored on the case, and the bot owns the conversation again.
        mark = customer.mark()
        customer.say('/rate{"rating":5}')
        invite = customer.wait_for(message_from("bot"), REPLY_S, "an invitation to comment", mark)
        assert "补充" in invite["text"], invite
        wait_until(lambda: cases.hget(keys.case(case_id), "csat_rating") == "5", timeout=20,
                   what="csat_rating 5 on the case")
        mark = customer.mark()
        customer.say("客服很耐心，谢谢")
        thanks = customer.wait_for(message_from("bot"), REPLY_S, "thanks for the rating", mark)
        assert "谢谢" in thanks["text"], thanks
        wait_until(lambda: cases.hget(keys.case(case_id), "csat_comment") == "客服很耐心，谢谢", timeout=20,
                   what="the comment on the case")
        wait_until(lambda: store.owner(conversation_id).state == ownership.BOT, timeout=20,
                   what="the bot to own the conversation again")
        customer.wait_for(state_is("bot"), 20, "state frame owner bot", mark)
        shot(page, "08-after-rating")
    finally:
        customer.close()
        cases.close()
    if os.environ.get("FULL_HANDOFF_DUMP"):
        print("\n".join(f"{f}" for f in customer.frames))
