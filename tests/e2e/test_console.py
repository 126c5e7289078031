"""The agent console in a real headless Chromium against a real bridge and Redis.

A customer conversation is queued the way the action server does it; the agent signs
in, gets the offer, accepts, chats, and hands back. Screenshots of each step go to
tests/artifacts/screenshots/console-*.png.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict

from handoff import ownership
from tests.e2e.conftest import BridgeProcess, Customers, wait_until

XSS = '<img src=x onerror="window.__pwned=1"> and <b>bold</b>'

ZH_HANT_FIELDS = {
    "description": "退款申請咗兩個禮拜都未到",
    "order_ref": "ZZ555666",
    "incident_date": "上星期五",
    "desired_outcome": "refund",
    "contact": "+85291234567",
}
ZH_HANT_SUMMARY = "Refund (ZZ555666) refused since last Friday; wants refund; asked for a person twice."


def sign_in(page: Any, account: Dict[str, str]) -> None:
    """Fill the sign-in form and wait for the console."""
    page.get_by_label("Name").fill(account["name"])
    page.get_by_label("Password").fill(account["password"])
    page.get_by_role("button", name="Sign in").click()
    page.locator("#nw-agent-name").wait_for(state="visible")
    assert page.locator("#nw-agent-name").text_content() == account["name"]


def open_section(page: Any, form_id: str) -> None:
    """Open the collapsible action section holding a form (a click on an open one would close it)."""
    section = page.locator(f"details:has(#{form_id})")
    if section.get_attribute("open") is None:
        section.locator("summary").click()
    page.locator(f"#{form_id}").wait_for(state="visible")


def message_items(page: Any) -> Any:
    """The rendered log entries of the open chat (not pending bubbles)."""
    return page.locator("#nw-messages li.nw-msg[data-id]:not([data-id=''])")


def test_offer_accept_chat_and_hand_back(
    page: Any, agent_account: Dict[str, str], customers: Customers, shots: Callable[[Any, str], Any]
) -> None:
    # Sign in.
    page.locator("#nw-signin-form").wait_for(state="visible")
    shots(page, "01-sign-in")
    sign_in(page, agent_account)
    assert page.evaluate("sessionStorage.getItem('nw-agent-token')"), "the session token is kept for reloads"

    # A Traditional Chinese customer is queued; the console is offered the case.
    case_id, conversation_id = customers.queue_case(
        "zh-Hant", "refund", ZH_HANT_FIELDS, ZH_HANT_SUMMARY,
        history=[
            ("customer", "我要投訴，退款到而家都未收到"),
            ("bot", "明白，請問你的訂單編號是多少？"),
            ("customer", "ZZ555666，我要同真人講"),
            ("system", "正在為你轉接客服人員。"),
        ],
        frustration=[0.1, 0.4, 0.8],
        past_cases=[{"case_id": "CMP-20261101-0007", "category": "delivery", "status": "resolved"}],
    )
    offer = page.locator(f".nw-offer[data-case-id='{case_id}']")
    offer.wait_for(state="visible", timeout=15_000)
    assert ZH_HANT_SUMMARY in offer.locator(".nw-offer-summary").text_content()
    assert offer.locator(".nw-offer-desc").text_content() == ZH_HANT_FIELDS["description"]
    assert "s" in offer.locator(".nw-offer-countdown").text_content()
    shots(page, "02-offer")

    # Accept: the chat opens with the transcript and the case panel.
    offer.get_by_role("button", name="Accept").click()
    offer.wait_for(state="detached")
    page.locator(f".nw-tab-button[data-case-id='{case_id}']").wait_for()
    wait_until(lambda: customers.owner(conversation_id).state == ownership.AGENT, what="the agent to own the chat")
    messages = page.locator("#nw-messages")
    messages.get_by_text("我要投訴，退款到而家都未收到").wait_for()
    messages.get_by_text("明白，請問你的訂單編號是多少？").wait_for()
    assert page.locator("#nw-messages li[data-author='bot']").count() >= 1
    case_panel = page.locator("#nw-case-body")
    assert case_id in case_panel.text_content()
    assert ZH_HANT_FIELDS["description"] in case_panel.text_content()
    assert page.locator("#nw-case-body .nw-spark-bar").count() == 3
    assert "CMP-20261101-0007" in case_panel.text_content()

    # What the customer writes shows up; so does their typing.
    customers.typing(conversation_id, True)
    page.locator("#nw-typing").get_by_text("customer is typing…").wait_for()
    customers.say(conversation_id, "你好？有冇人喺度？")
    messages.get_by_text("你好？有冇人喺度？").wait_for()

    # A canned reply is inserted in the conversation's language; the agent types and sends with Enter.
    page.locator("#nw-canned .nw-canned-item[data-code='greeting']").click()
    composer = page.locator("#nw-composer-input")
    assert composer.input_value().startswith("您好，我來幫您處理這次投訴。")
    composer.fill("")
    composer.type("你好，我係美玲，我幫你跟進退款。")
    wait_until(lambda: customers.agent_typing(conversation_id), what="the agent typing indicator")
    composer.press("Enter")
    reply = "你好，我係美玲，我幫你跟進退款。"
    sent = wait_until(
        lambda: [e for e in customers.log(conversation_id) if e.author == "agent" and e.text == reply],
        what="the agent's reply in the conversation log",
    )
    assert len(sent) == 1
    assert sent[0].extra.get("agent_id") == agent_account["agent_id"]
    mine = page.locator(f"#nw-messages li[data-author='agent'][data-id='{sent[0].id}']")
    mine.wait_for()
    assert page.locator("#nw-messages li.nw-msg--pending").count() == 0, "the pending bubble was replaced by the echo"
    assert page.locator("#nw-messages li[data-author='agent']").count() == 1
    assert composer.input_value() == ""

    # Markup from a customer is shown as text and never runs.
    customers.say(conversation_id, XSS)
    hostile = page.locator("#nw-messages li[data-author='customer']").filter(has_text="onerror")
    hostile.wait_for()
    assert hostile.locator(".nw-msg-text").text_content() == XSS
    assert page.locator("#nw-messages img, #nw-messages b").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    shots(page, "03-chat")

    # A reload resumes the session: same chat, nothing missed, nothing twice.
    before = message_items(page).count()
    customers.typing(conversation_id, False)
    page.reload()
    page.locator(f".nw-tab-button[data-case-id='{case_id}']").wait_for()
    customers.say(conversation_id, "重新連線之後呢？")
    messages.get_by_text("重新連線之後呢？").wait_for()
    ids = page.eval_on_selector_all("#nw-messages li[data-id]", "nodes => nodes.map(n => n.dataset.id)")
    assert len(ids) == len(set(ids)), "no message is shown twice after the reload"
    assert message_items(page).count() == before + 1

    # Hand back to the bot: the owner changes and the chat shows closed.
    open_section(page, "nw-handback-form")
    page.get_by_label("Hand-back note").fill("退款已經處理，交返俾助手收集評分。")
    page.locator("#nw-handback").click()
    wait_until(lambda: customers.owner(conversation_id).state == ownership.HANDED_BACK,
               what="the conversation to be handed back")
    page.locator("#nw-chat-state").get_by_text("Closed").wait_for()
    page.locator(f".nw-tab--closed .nw-tab-button[data-case-id='{case_id}']").wait_for()
    assert page.locator("#nw-composer-input").is_disabled()
    shots(page, "04-handed-back")


def test_pick_from_queue_at_900px(
    page: Any, agent_account: Dict[str, str], customers: Customers, shots: Callable[[Any, str], Any]
) -> None:
    page.set_viewport_size({"width": 900, "height": 900})
    sign_in(page, agent_account)
    # Busy: no offers, so the case waits in the queue for the agent to pick.
    page.get_by_label("Presence").select_option("busy")
    wait_until(lambda: customers.presence(agent_account["agent_id"]) == "busy", what="presence busy")
    case_id, conversation_id = customers.queue_case(
        "en", "delivery",
        {"description": "The parcel was left in the rain and the blender inside is broken.",
         "order_ref": "NW-2291-7781", "incident_date": "yesterday", "desired_outcome": "replacement",
         "contact": "sam@example.com"},
        "Broken blender (NW-2291-7781) delivered yesterday; wants replacement.",
        history=[("customer", "My blender arrived broken."), ("bot", "Sorry to hear that. What is your order number?")],
        priority=85, emergency=True, frustration=[0.2, 0.3, 0.5, 0.9],
        sla_due="2020-01-01T00:00:00+00:00",
    )
    item = page.locator(f".nw-queue-item[data-case-id='{case_id}']")
    item.wait_for()
    assert "Broken blender" in item.text_content()
    assert "EMERGENCY" in item.text_content()
    first = item.locator(".nw-wait").text_content()
    assert first.startswith("waiting 1:3"), first  # queued 95 s ago
    # The waiting time ticks (polled from Python: the page's CSP forbids wait_for_function's eval).
    wait_until(lambda: item.locator(".nw-wait").text_content() != first, timeout=5, what="the waiting time to tick")
    shots(page, "05-queue-900px")

    item.get_by_role("button", name=f"Pick {case_id}").click()
    page.locator(f".nw-tab-button[data-case-id='{case_id}']").wait_for()
    wait_until(lambda: customers.owner(conversation_id).state == ownership.AGENT, what="the pick")
    page.locator("#nw-messages").get_by_text("My blender arrived broken.").wait_for()
    assert "overdue" in page.locator(".nw-sla").text_content()
    assert page.locator(".nw-sla--overdue").count() == 1
    # Layout at 900 px: the chat and the case panel do not overlap.
    chat = page.locator(".nw-work").bounding_box()
    case = page.locator("#nw-casecol").bounding_box()
    side = page.locator(".nw-side").bounding_box()
    assert chat["x"] >= side["x"] + side["width"] - 1
    assert case["y"] >= chat["y"] + chat["height"] - 1 or case["x"] >= chat["x"] + chat["width"] - 1
    shots(page, "06-chat-900px")

    # An error frame becomes a dismissible toast.
    # Provoked through the UI: a transfer to an agent who does not exist.
    open_section(page, "nw-transfer-form")
    page.get_by_label("an agent").check()
    page.get_by_label("Agent id").fill("nobody-here")
    page.get_by_role("button", name="Transfer", exact=True).click()
    toast = page.locator(".nw-toast").filter(has_text="not_found")
    toast.wait_for()
    toast.get_by_role("button", name="Dismiss").click()
    toast.wait_for(state="detached")

    # Resolve; the tab stays, marked closed.
    open_section(page, "nw-resolve-form")
    page.get_by_label("Resolution", exact=True).select_option("resolved_replacement")
    page.get_by_role("button", name="Resolve case").click()
    wait_until(lambda: customers.owner(conversation_id).state == ownership.CLOSED, what="the case to be resolved")
    page.locator("#nw-chat-state").get_by_text("Closed").wait_for()


def test_supervisor_sees_agents_and_callbacks(
    page: Any, agent_account: Dict[str, str], supervisor_account: Dict[str, str], customers: Customers,
    shots: Callable[[Any, str], Any],
) -> None:
    now = datetime.now(timezone.utc)
    late = customers.promise_callback("zh-Hans", "+8613800000000", now - timedelta(minutes=20))
    later = customers.promise_callback("en", "sam@example.com", now + timedelta(hours=3))
    sign_in(page, supervisor_account)
    # The agents list (sent every 5 s) shows both accounts with presence and load.
    agents = page.locator("#nw-agents-panel")
    agents.wait_for(state="visible")
    page.locator("#nw-agents tr").filter(has_text=agent_account["name"]).wait_for(timeout=15_000)
    assert page.locator("#nw-agents tr").filter(has_text=supervisor_account["name"]).count() == 1
    # Callbacks: the overdue one is flagged; "Done" marks it made.
    overdue = page.locator(".nw-callback").filter(has_text=late)
    overdue.wait_for(timeout=15_000)
    assert "nw-callback--overdue" in overdue.get_attribute("class")
    assert "OVERDUE" in overdue.text_content()
    upcoming = page.locator(".nw-callback").filter(has_text=later)
    assert "nw-callback--overdue" not in upcoming.get_attribute("class")
    shots(page, "07-supervisor")
    overdue.get_by_role("button", name=f"Callback for {late} done").click()
    wait_until(lambda: customers.callback_status(late) == "done", what="the callback to be marked done")
    overdue.wait_for(state="detached")
    # Sign out: back to the form, token gone.
    page.get_by_role("button", name="Sign out").click()
    page.locator("#nw-signin-form").wait_for(state="visible")
    assert page.evaluate("sessionStorage.getItem('nw-agent-token')") is None


def test_reconnects_after_a_bridge_restart_without_losing_or_repeating(
    page: Any, bridge_process: BridgeProcess, agent_account: Dict[str, str], customers: Customers,
    shots: Callable[[Any, str], Any],
) -> None:
    sign_in(page, agent_account)
    page.get_by_label("Presence").select_option("available")
    case_id, conversation_id = customers.queue_case(
        "zh-Hans", "billing",
        {"description": "这个月被重复扣费两次", "order_ref": "BX-778812", "incident_date": "本月三号",
         "desired_outcome": "refund", "contact": "+8613800000000"},
        "Charged twice this month (BX-778812); wants the second charge refunded.",
        history=[("customer", "我被扣了两次钱"), ("bot", "很抱歉，我帮您转接人工客服。")],
    )
    offer = page.locator(f".nw-offer[data-case-id='{case_id}']")
    offer.wait_for(timeout=15_000)
    offer.get_by_role("button", name="Accept").click()
    page.locator("#nw-messages").get_by_text("我被扣了两次钱").wait_for()

    # The bridge goes away: the console says so, and keeps what the agent writes meanwhile.
    bridge_process.stop()
    page.locator("#nw-conn").get_by_text("Reconnecting").wait_for()
    customers.say(conversation_id, "喂？还在吗？")
    composer = page.locator("#nw-composer-input")
    composer.fill("我在，正在帮您查扣费记录。")
    composer.press("Enter")
    page.locator("#nw-messages li.nw-msg--pending").get_by_text("Waiting for the connection…").wait_for()
    shots(page, "08-reconnecting")

    # It comes back: the session resumes, the missed message arrives once, the kept one is sent once.
    bridge_process.start()
    page.locator("#nw-conn").get_by_text("Connected").wait_for(timeout=20_000)
    page.locator("#nw-messages").get_by_text("喂？还在吗？").wait_for()
    wait_until(
        lambda: [e for e in customers.log(conversation_id) if e.author == "agent"], what="the kept message to be sent"
    )
    page.locator("#nw-messages li.nw-msg--pending").wait_for(state="detached")
    page.wait_for_timeout(1500)  # any duplicate would have arrived by now
    assert len([e for e in customers.log(conversation_id) if e.author == "agent"]) == 1
    ids = page.eval_on_selector_all("#nw-messages li[data-id]", "nodes => nodes.map(n => n.dataset.id)")
    assert len(ids) == len(set(ids))
    assert page.locator("#nw-messages li").filter(has_text="喂？还在吗？").count() == 1
    shots(page, "09-reconnected")
