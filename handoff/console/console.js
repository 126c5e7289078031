/*
 * Northwind agent console: plain JavaScript, no framework, no build step.
 * It speaks the agent protocol of handoff/PROTOCOL.md over one WebSocket (/agent).
 *
 * SECURITY: every piece of text that comes from the bridge (customer messages, case
 * fields, names, error details) is put on the page with textContent or
 * document.createTextNode, NEVER with innerHTML / outerHTML / insertAdjacentHTML, and
 * nothing is ever evaluated (no eval, no new Function, no string timers). The helper
 * `el()` below is the only way this file builds elements, and it only sets text.
 */
(function () {
  "use strict";

  var VERSION = 1;
  var TOKEN_KEY = "nw-agent-token";
  var SOUND_KEY = "nw-agent-sound";
  var PING_EVERY_MS = 20000;
  var PONG_TIMEOUT_MS = 10000;
  var TYPING_EVERY_MS = 3000; // resend "typing on" at most this often (the bridge expires it after 8 s)
  var TYPING_IDLE_MS = 4000; // "typing off" after this long without a keystroke
  var CUSTOMER_TYPING_MAX_MS = 10000;
  var PENDING_FAIL_MS = 15000;

  var LANGUAGE_NAMES = { "en": "English", "zh-Hans": "简体中文", "zh-Hant": "繁體中文" };
  var FIELD_LABELS = [
    ["description", "Description"],
    ["order_ref", "Order ref"],
    ["incident_date", "Date"],
    ["desired_outcome", "Wanted outcome"],
    ["contact", "Contact"]
  ];
  var CLOSED_TEXT = {
    resolved: "Resolved",
    handed_back: "Handed back to the bot",
    transferred: "Transferred",
    cancelled: "Cancelled by the customer"
  };
  var AUTHOR_LABEL = { customer: "Customer", bot: "Bot", agent: "Agent", system: "System" };

  // --- state ---
  var state = {
    ws: null,
    connected: false,
    signedIn: false,
    wantSocket: true,
    attempt: 0,
    reconnectTimer: null,
    pingTimer: null,
    pongTimer: null,
    agent: null,
    canned: {},
    chats: {}, // case_id -> chat
    order: [], // case ids in tab order
    byConversation: {}, // conversation_id -> case_id
    active: null,
    queue: [],
    queueAt: 0,
    offers: {}, // case_id -> {case, expiresAt, node}
    callbacks: [],
    agents: [],
    sound: true
  };

  // --- tiny DOM helpers (text only, never HTML) ---

  function $(id) { return document.getElementById(id); }

  /** Build an element; string children become text nodes (never parsed as HTML). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "className") node.className = value;
        else if (name === "text") node.textContent = String(value);
        else if (name.slice(0, 2) === "on" && typeof value === "function") node.addEventListener(name.slice(2), value);
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function show(node, visible) { node.hidden = !visible; }

  function str(value) { return value === null || value === undefined ? "" : String(value); }

  function languageName(code) { return LANGUAGE_NAMES[code] ? LANGUAGE_NAMES[code] + " (" + code + ")" : str(code); }

  function streamOrder(id) {
    var parts = String(id || "0-0").split("-");
    return [Number(parts[0]) || 0, Number(parts[1]) || 0];
  }

  function compareIds(a, b) {
    var x = streamOrder(a), y = streamOrder(b);
    return x[0] !== y[0] ? x[0] - y[0] : x[1] - y[1];
  }

  function clock(iso) {
    var date = iso ? new Date(iso) : null;
    if (!date || isNaN(date.getTime())) return "";
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function dateTime(iso) {
    var date = iso ? new Date(iso) : null;
    if (!date || isNaN(date.getTime())) return str(iso);
    var options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    if (date.getFullYear() !== new Date().getFullYear()) options.year = "numeric";
    return date.toLocaleString([], options);
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (d) return d + " d " + h + " h";
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }

  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) return "c-" + window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "c-" + Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function storedToken() {
    try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function storeToken(token) {
    try {
      if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
      else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage blocked: the session just will not survive a reload */ }
  }

  // --- toasts (error frames and notices) ---

  function toast(title, detail, kind) {
    var box = $("nw-toasts");
    var node = el("div", { className: "nw-toast nw-toast--" + (kind || "error"), role: kind === "info" ? "status" : "alert" }, [
      el("div", { className: "nw-toast-text" }, [
        el("strong", { className: "nw-toast-title", text: title }),
        detail ? el("span", { className: "nw-toast-detail", text: detail }) : null
      ]),
      el("button", { type: "button", className: "nw-toast-close", "aria-label": "Dismiss", text: "×",
        onclick: function () { node.remove(); } })
    ]);
    box.appendChild(node);
    while (box.children.length > 5) box.removeChild(box.firstChild);
    window.setTimeout(function () { if (node.parentNode) node.remove(); }, kind === "info" ? 5000 : 12000);
  }

  // --- sound and notifications (permission asked on the first click) ---

  var audio = null;

  function unlockAttention() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx && !audio) audio = new Ctx();
      if (audio && audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
    try {
      if ("Notification" in window && window.Notification.permission === "default") {
        window.Notification.requestPermission().catch(function () { /* denied: skip silently */ });
      }
    } catch (e) { /* no notifications here */ }
  }

  document.addEventListener("click", unlockAttention, { once: true, capture: true });
  document.addEventListener("keydown", unlockAttention, { once: true, capture: true });

  function beep() {
    if (!state.sound || !audio) return;
    try {
      var now = audio.currentTime;
      [0, 0.18].forEach(function (offset, i) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = i ? 1175 : 880;
        gain.gain.setValueAtTime(0.0001, now + offset);
        gain.gain.exponentialRampToValueAtTime(0.2, now + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.15);
        osc.connect(gain).connect(audio.destination);
        osc.start(now + offset);
        osc.stop(now + offset + 0.16);
      });
    } catch (e) { /* sound is a nicety */ }
  }

  function notify(title, body, tag) {
    try {
      if (!("Notification" in window) || window.Notification.permission !== "granted") return;
      var n = new window.Notification(title, { body: body, tag: tag });
      n.onclick = function () { window.focus(); n.close(); };
    } catch (e) { /* skip silently */ }
  }

  // --- the socket ---

  function setConn(text, kind) {
    var node = $("nw-conn");
    node.textContent = text;
    node.className = "nw-conn nw-conn--" + kind;
    $("nw-app").classList.toggle("nw-app--offline", kind !== "ok"); // what is shown may be stale
  }

  function connect() {
    window.clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try {
      ws = new WebSocket(scheme + window.location.host + "/agent");
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    setConn(state.attempt ? "Reconnecting…" : "Connecting…", "wait");
    ws.onopen = function () {
      if (state.ws !== ws) return;
      state.connected = true;
      state.attempt = 0;
      setConn("Connected", "ok");
      startPing();
      var token = storedToken();
      if (token) {
        rawSend({ type: "resume_session", token: token });
      } else {
        showSignIn();
      }
    };
    ws.onmessage = function (event) {
      if (state.ws !== ws) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame === "object") handle(frame);
    };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      state.ws = null;
      state.connected = false;
      state.signedIn = false;
      stopPing();
      if (state.wantSocket) scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    state.attempt += 1;
    var delay = Math.min(30000, 500 * Math.pow(2, Math.min(state.attempt - 1, 6))) + Math.floor(Math.random() * 400);
    setConn("Reconnecting… (" + Math.ceil(delay / 1000) + " s)", "bad");
    state.reconnectTimer = window.setTimeout(connect, delay);
  }

  function startPing() {
    stopPing();
    state.pingTimer = window.setInterval(function () {
      if (!state.connected) return;
      rawSend({ type: "ping" });
      window.clearTimeout(state.pongTimer);
      state.pongTimer = window.setTimeout(function () {
        // No answer: the socket is half dead; close it and reconnect.
        if (state.ws) state.ws.close();
      }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  function stopPing() {
    window.clearInterval(state.pingTimer);
    window.clearTimeout(state.pongTimer);
  }

  function rawSend(frame) {
    frame.v = VERSION;
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send a frame that needs a session; says so when offline (messages are kept by dispatchPending). */
  function send(frame, quiet) {
    if (state.signedIn && rawSend(frame)) return true;
    if (!quiet) toast("Not connected", "Wait for the console to reconnect, then try again.");
    return false;
  }

  // --- frames from the bridge ---

  var handlers = {
    welcome: onWelcome,
    queue: onQueue,
    offer: onOffer,
    offer_withdrawn: onOfferWithdrawn,
    assigned: onAssigned,
    message: onMessage,
    typing: onTyping,
    case_closed: onCaseClosed,
    callbacks: onCallbacks,
    agents: onAgents,
    error: onError,
    pong: function () { window.clearTimeout(state.pongTimer); }
  };

  function handle(frame) {
    var handler = handlers[frame.type];
    if (handler) handler(frame);
  }

  function onWelcome(frame) {
    var firstTime = !state.agent || (frame.agent && state.agent.agent_id !== frame.agent.agent_id);
    if (firstTime) resetWork();
    state.signedIn = true;
    state.agent = frame.agent || {};
    state.canned = frame.canned_replies || {};
    storeToken(frame.token);
    // Cursors as they were before this welcome: everything after them is replayed.
    var cursors = {};
    (frame.chats || []).forEach(function (caseData) {
      var existing = state.chats[caseData.case_id];
      if (existing && existing.lastId) cursors[existing.conversationId] = existing.lastId;
    });
    var held = {};
    (frame.chats || []).forEach(function (caseData) {
      held[caseData.case_id] = true;
      upsertChat(caseData, false);
    });
    // Chats we showed that are no longer held ended while we were away.
    state.order.forEach(function (caseId) {
      var chat = state.chats[caseId];
      if (!held[caseId] && !chat.closed) markClosed(chat, "transferred", true);
    });
    (frame.chats || []).forEach(function (caseData) {
      var chat = state.chats[caseData.case_id];
      if (!cursors[chat.conversationId]) cursors[chat.conversationId] = chat.lastId || "0-0";
    });
    if (Object.keys(cursors).length) rawSend({ type: "sync", cursors: cursors });
    // Messages written while offline go now, with their client ids (the echo replaces each bubble).
    state.order.forEach(function (caseId) {
      var chat = state.chats[caseId];
      Object.keys(chat.pending).forEach(function (clientId) {
        if (chat.pending[clientId].queued && !chat.closed) dispatchPending(chat, chat.pending[clientId]);
      });
    });
    renderHeader();
    showApp();
    if (!state.active && state.order.length) activate(state.order[0]);
    renderAll();
  }

  function resetWork() {
    state.chats = {};
    state.order = [];
    state.byConversation = {};
    state.active = null;
    state.offers = {};
    clear($("nw-offers"));
  }

  function onQueue(frame) {
    state.queue = Array.isArray(frame.waiting) ? frame.waiting : [];
    state.queueAt = Date.now();
    renderQueue();
  }

  function onOffer(frame) {
    var caseData = frame.case || {};
    if (!caseData.case_id || state.chats[caseData.case_id] && !state.chats[caseData.case_id].closed) return;
    var isNew = !state.offers[caseData.case_id];
    var expires = Date.parse(frame.expires_at);
    state.offers[caseData.case_id] = { case: caseData, expiresAt: isNaN(expires) ? Date.now() + 30000 : expires };
    renderOffers();
    if (isNew) {
      beep();
      notify("New case offered" + (caseData.emergency ? " — EMERGENCY" : ""),
        str(caseData.summary || (caseData.fields && caseData.fields.description)), caseData.case_id);
    }
  }

  function onOfferWithdrawn(frame) {
    if (!state.offers[frame.case_id]) return;
    delete state.offers[frame.case_id];
    renderOffers();
    var why = { timeout: "timed out", taken: "was taken by someone else", cancelled: "was cancelled by the customer",
      declined: "was declined" }[frame.reason] || str(frame.reason);
    if (frame.reason !== "declined") toast("Offer withdrawn", frame.case_id + " " + why + ".", "info");
  }

  function onAssigned(frame) {
    var caseData = frame.case || {};
    if (!caseData.case_id) return;
    if (state.offers[caseData.case_id]) {
      delete state.offers[caseData.case_id];
      renderOffers();
    }
    var chat = upsertChat(caseData, true);
    activate(chat.caseId);
    renderAll();
  }

  function onMessage(frame) {
    var caseId = state.byConversation[frame.conversation_id];
    var chat = caseId && state.chats[caseId];
    if (!chat) return;
    var added = addMessage(chat, {
      id: frame.id, author: frame.author, text: frame.text, at: frame.at, kind: frame.kind,
      client_id: frame.client_id, agent_name: frame.agent_name, buttons: frame.buttons
    });
    if (added && frame.author === "customer") {
      chat.customerTyping = false;
      if (state.active !== chat.caseId || document.hidden) {
        chat.unread += 1;
        beep();
        if (document.hidden) notify("Message from the customer", str(frame.text).slice(0, 140), chat.caseId);
      }
    }
    if (state.active === chat.caseId) renderMessages(added);
    renderTabs();
    renderTyping();
  }

  function onTyping(frame) {
    if (frame.party !== "customer") return;
    var caseId = state.byConversation[frame.conversation_id];
    var chat = caseId && state.chats[caseId];
    if (!chat) return;
    chat.customerTyping = !!frame.on;
    chat.customerTypingAt = Date.now();
    renderTyping();
  }

  function onCaseClosed(frame) {
    var chat = state.chats[frame.case_id];
    if (state.offers[frame.case_id]) {
      delete state.offers[frame.case_id];
      renderOffers();
    }
    if (!chat) return;
    markClosed(chat, frame.how, false);
    renderAll();
  }

  function onCallbacks(frame) {
    state.callbacks = Array.isArray(frame.due) ? frame.due : [];
    renderCallbacks();
  }

  function onAgents(frame) {
    state.agents = Array.isArray(frame.agents) ? frame.agents : [];
    renderAgents();
  }

  function onError(frame) {
    var code = str(frame.code), detail = str(frame.detail);
    if (code === "bad_credentials") {
      $("nw-signin-error").textContent = detail || "Wrong name or password.";
      $("nw-signin-submit").disabled = false;
      return;
    }
    if (code === "session_expired" || code === "not_signed_in") {
      var hadSession = !!storedToken() || state.signedIn;
      storeToken(null);
      state.signedIn = false;
      showSignIn();
      if (hadSession) toast("Signed out", detail || "Your session has ended; sign in again.");
      return;
    }
    if (frame.ref_type === "message") failPending();
    toast("Error: " + code + (frame.ref_type ? " (" + frame.ref_type + ")" : ""), detail);
  }

  // --- chats ---

  function upsertChat(caseData, fresh) {
    var chat = state.chats[caseData.case_id];
    if (!chat) {
      chat = {
        caseId: caseData.case_id,
        conversationId: caseData.conversation_id,
        case: caseData,
        messages: [],
        ids: {},
        pending: {},
        lastId: null,
        unread: 0,
        closed: null,
        customerTyping: false,
        customerTypingAt: 0,
        draft: "",
        typingSentAt: 0,
        typingTimer: null
      };
      state.chats[chat.caseId] = chat;
      state.order.push(chat.caseId);
    } else if (fresh && chat.closed) {
      chat.closed = null; // back with this agent (transferred back, picked again)
    }
    chat.case = caseData;
    chat.conversationId = caseData.conversation_id;
    state.byConversation[chat.conversationId] = chat.caseId;
    (caseData.transcript || []).forEach(function (row) { addMessage(chat, row); });
    return chat;
  }

  /** Add a log entry once (by id, in id order); returns whether it was new. */
  function addMessage(chat, row) {
    if (!row || !row.id || chat.ids[row.id]) {
      if (row && row.client_id) delete chat.pending[row.client_id];
      return false;
    }
    chat.ids[row.id] = true;
    if (row.client_id && chat.pending[row.client_id]) {
      // The echo of our own message: it replaces the pending bubble.
      var pending = chat.pending[row.client_id];
      delete chat.pending[row.client_id];
      var at = chat.messages.indexOf(pending);
      if (at >= 0) chat.messages.splice(at, 1);
    }
    var message = {
      id: row.id, author: row.author, text: str(row.text), at: row.at, kind: row.kind,
      agentName: row.agent_name, buttons: parseButtons(row.buttons), clientId: row.client_id
    };
    var index = chat.messages.length;
    while (index > 0 && (chat.messages[index - 1].pending || compareIds(chat.messages[index - 1].id, row.id) > 0)) index -= 1;
    chat.messages.splice(index, 0, message);
    if (!chat.lastId || compareIds(row.id, chat.lastId) > 0) chat.lastId = row.id;
    return true;
  }

  function parseButtons(raw) {
    if (!raw) return [];
    if (Array.isArray(raw)) return raw;
    try { var parsed = JSON.parse(raw); return Array.isArray(parsed) ? parsed : []; } catch (e) { return []; }
  }

  function markClosed(chat, how, silent) {
    chat.closed = how || "closed";
    chat.customerTyping = false;
    window.clearTimeout(chat.typingTimer);
    Object.keys(chat.pending).forEach(function (clientId) { chat.pending[clientId].failed = true; });
    if (!silent && how === "transferred") toast("Chat transferred", chat.caseId + " left your chats.", "info");
  }

  function failPending() {
    Object.keys(state.chats).forEach(function (caseId) {
      var chat = state.chats[caseId];
      Object.keys(chat.pending).forEach(function (clientId) {
        var msg = chat.pending[clientId];
        if (!msg.queued && msg.sentAt && Date.now() - msg.sentAt < 5000) msg.failed = true;
      });
    });
    renderMessages(false);
  }

  function activate(caseId) {
    var previous = state.chats[state.active];
    var input = $("nw-composer-input");
    if (previous) previous.draft = input.value;
    state.active = caseId;
    var chat = state.chats[caseId];
    if (chat) {
      chat.unread = 0;
      input.value = chat.draft || "";
    }
    renderAll();
  }

  function closeTab(caseId) {
    var at = state.order.indexOf(caseId);
    if (at < 0) return;
    var chat = state.chats[caseId];
    state.order.splice(at, 1);
    delete state.chats[caseId];
    if (chat && state.byConversation[chat.conversationId] === caseId) delete state.byConversation[chat.conversationId];
    if (state.active === caseId) {
      state.active = null;
      if (state.order.length) activate(state.order[Math.min(at, state.order.length - 1)]);
    }
    renderAll();
  }

  function sendMessage() {
    var chat = state.chats[state.active];
    var input = $("nw-composer-input");
    var text = input.value.replace(/\s+$/, "");
    if (!chat || chat.closed || !text.trim()) return;
    var clientId = newClientId();
    var pending = { id: null, pending: true, author: "agent", text: text, at: new Date().toISOString(),
      clientId: clientId, agentName: state.agent && state.agent.name };
    chat.pending[clientId] = pending;
    chat.messages.push(pending);
    dispatchPending(chat, pending);
    input.value = "";
    chat.draft = "";
    chat.typingSentAt = 0;
    window.clearTimeout(chat.typingTimer);
    renderMessages(true);
  }

  /**
   * Send a pending message, or keep it (queued) until the session is back; it is sent once per
   * attempt, always with its client_id, and fails visibly when no echo comes in time.
   */
  function dispatchPending(chat, pending) {
    pending.failed = false;
    var frame = { type: "message", conversation_id: chat.conversationId, text: pending.text, client_id: pending.clientId };
    if (!send(frame, true)) {
      pending.queued = true;
      return;
    }
    pending.queued = false;
    pending.sentAt = Date.now();
    var attempt = pending.sentAt;
    window.setTimeout(function () {
      if (chat.pending[pending.clientId] === pending && pending.sentAt === attempt && !pending.queued) {
        pending.failed = true;
        if (state.active === chat.caseId) renderMessages(false);
      }
    }, PENDING_FAIL_MS);
  }

  function retryPending(chat, pending) {
    dispatchPending(chat, pending);
    renderMessages(false);
  }

  function agentTyping() {
    var chat = state.chats[state.active];
    if (!chat || chat.closed || !state.signedIn) return;
    var now = Date.now();
    var input = $("nw-composer-input");
    if (!input.value.trim()) {
      stopTyping(chat);
      return;
    }
    if (now - chat.typingSentAt >= TYPING_EVERY_MS) {
      chat.typingSentAt = now;
      rawSend({ type: "typing", conversation_id: chat.conversationId, on: true });
    }
    window.clearTimeout(chat.typingTimer);
    chat.typingTimer = window.setTimeout(function () { stopTyping(chat); }, TYPING_IDLE_MS);
  }

  function stopTyping(chat) {
    window.clearTimeout(chat.typingTimer);
    if (!chat.typingSentAt) return;
    chat.typingSentAt = 0;
    if (!chat.closed && state.signedIn) rawSend({ type: "typing", conversation_id: chat.conversationId, on: false });
  }

  function insertCanned(code) {
    var chat = state.chats[state.active];
    var reply = state.canned[code];
    if (!chat || !reply) return;
    var language = chat.case.language;
    var text = reply[language] || reply.en || "";
    var input = $("nw-composer-input");
    var start = input.selectionStart === undefined ? input.value.length : input.selectionStart;
    var end = input.selectionEnd === undefined ? input.value.length : input.selectionEnd;
    var before = input.value.slice(0, start), after = input.value.slice(end);
    var glue = before && !/\s$/.test(before) ? " " : "";
    input.value = before + glue + text + after;
    var caret = (before + glue + text).length;
    input.focus();
    input.setSelectionRange(caret, caret);
    agentTyping();
  }

  // --- rendering ---

  function renderAll() {
    renderHeader();
    renderOffers();
    renderQueue();
    renderCallbacks();
    renderAgents();
    renderTabs();
    renderChat();
    renderCase();
    renderCanned();
  }

  function renderHeader() {
    var agent = state.agent;
    show($("nw-header-agent"), !!(agent && state.signedIn));
    if (!agent) return;
    $("nw-agent-name").textContent = str(agent.name);
    $("nw-agent-role").textContent = agent.role === "supervisor" ? "Supervisor" : "Agent";
    var presence = agent.presence && agent.presence !== "offline" ? agent.presence : "available";
    $("nw-presence").value = presence;
    $("nw-presence-dot").className = "nw-presence-dot nw-presence-dot--" + presence;
    $("nw-sound-toggle").textContent = state.sound ? "Sound on" : "Sound off";
    $("nw-sound-toggle").setAttribute("aria-pressed", state.sound ? "true" : "false");
    var unread = state.order.reduce(function (sum, id) { return sum + state.chats[id].unread; }, 0);
    var offers = Object.keys(state.offers).length;
    var badge = unread + offers;
    document.title = (badge ? "(" + badge + ") " : "") + "Northwind agent console";
  }

  function badge(text, kind) { return el("span", { className: "nw-badge nw-badge--" + kind, text: text }); }

  function priorityBadge(priority) {
    var p = Number(priority) || 0;
    return badge("P" + p, p >= 70 ? "high" : p >= 40 ? "mid" : "low");
  }

  function renderOffers() {
    var box = $("nw-offers");
    clear(box);
    Object.keys(state.offers).forEach(function (caseId) {
      var offer = state.offers[caseId];
      var c = offer.case, fields = c.fields || {};
      var countdown = el("span", { className: "nw-offer-countdown", "data-expires": String(offer.expiresAt),
        "aria-label": "Time left to accept" });
      var card = el("article", { className: "nw-offer" + (c.emergency ? " nw-offer--emergency" : ""),
        "aria-label": "Offered case " + caseId, "data-case-id": caseId }, [
        el("div", { className: "nw-offer-head" }, [
          el("strong", { className: "nw-offer-title", text: "New case offered" }),
          c.emergency ? badge("EMERGENCY", "emergency") : null,
          priorityBadge(c.priority),
          badge(languageName(c.language), "lang"),
          badge(str(c.category), "cat"),
          c.needs_authority ? badge("needs authority", "mid") : null,
          countdown
        ]),
        el("p", { className: "nw-offer-summary", lang: "en", text: str(c.summary) }),
        fields.description ? el("p", { className: "nw-offer-desc", lang: c.language, text: str(fields.description) }) : null,
        el("dl", { className: "nw-offer-meta" }, [
          el("dt", { text: "Case" }), el("dd", { text: caseId }),
          fields.order_ref ? el("dt", { text: "Order" }) : null, fields.order_ref ? el("dd", { text: str(fields.order_ref) }) : null,
          (c.reasons || []).length ? el("dt", { text: "Why" }) : null,
          (c.reasons || []).length ? el("dd", { text: c.reasons.join(", ") }) : null,
          c.frustration && c.frustration.length ? el("dt", { text: "Frustration" }) : null,
          c.frustration && c.frustration.length ? el("dd", {}, [sparkline(c.frustration)]) : null
        ]),
        el("div", { className: "nw-offer-buttons" }, [
          el("button", { type: "button", className: "nw-btn nw-btn--primary nw-btn--big", "data-action": "accept",
            text: "Accept", onclick: function () { send({ type: "accept", case_id: caseId }); } }),
          el("button", { type: "button", className: "nw-btn nw-btn--big", "data-action": "decline",
            text: "Decline", onclick: function () {
              send({ type: "decline", case_id: caseId });
              delete state.offers[caseId];
              renderOffers();
            } })
        ])
      ]);
      box.appendChild(card);
    });
    show(box, Object.keys(state.offers).length > 0);
    tickOffers();
  }

  function tickOffers() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll(".nw-offer-countdown"), function (node) {
      var left = Math.max(0, Math.ceil((Number(node.getAttribute("data-expires")) - now) / 1000));
      node.textContent = left + " s";
      node.classList.toggle("nw-offer-countdown--low", left <= 10);
    });
  }

  function renderQueue() {
    var list = $("nw-queue");
    clear(list);
    state.queue.forEach(function (row) {
      var mine = state.chats[row.case_id] && !state.chats[row.case_id].closed;
      list.appendChild(el("li", { className: "nw-queue-item" + (row.emergency ? " nw-queue-item--emergency" : ""),
        "data-case-id": row.case_id }, [
        el("div", { className: "nw-queue-head" }, [
          row.emergency ? badge("EMERGENCY", "emergency") : null,
          priorityBadge(row.priority),
          badge(str(row.language), "lang"),
          badge(str(row.category), "cat"),
          el("span", { className: "nw-wait", "data-wait": String(Number(row.waiting_seconds) || 0),
            "aria-label": "Waiting time" })
        ]),
        el("p", { className: "nw-queue-summary", text: str(row.summary) || "(no summary)" }),
        el("div", { className: "nw-queue-foot" }, [
          el("span", { className: "nw-muted nw-mono", text: str(row.case_id) }),
          el("button", { type: "button", className: "nw-btn nw-btn--small", disabled: mine,
            "aria-label": "Pick " + row.case_id, text: "Pick",
            onclick: function () { send({ type: "pick", case_id: row.case_id }); } })
        ])
      ]));
    });
    $("nw-queue-count").textContent = String(state.queue.length);
    show($("nw-queue-empty"), state.queue.length === 0);
    tickQueue();
  }

  function tickQueue() {
    var elapsed = (Date.now() - state.queueAt) / 1000;
    Array.prototype.forEach.call(document.querySelectorAll(".nw-wait"), function (node) {
      var seconds = Number(node.getAttribute("data-wait")) + elapsed;
      node.textContent = "waiting " + duration(seconds);
      node.classList.toggle("nw-wait--long", seconds >= 300);
    });
  }

  function renderCallbacks() {
    var list = $("nw-callbacks");
    clear(list);
    state.callbacks.forEach(function (row) {
      list.appendChild(el("li", { className: "nw-callback" + (row.overdue ? " nw-callback--overdue" : "") }, [
        el("div", { className: "nw-callback-main" }, [
          el("span", { className: "nw-mono", text: str(row.case_id) }),
          row.overdue ? badge("OVERDUE", "emergency") : null,
          el("span", { className: "nw-callback-when", text: "due " + dateTime(row.due_at) }),
          el("span", { className: "nw-callback-contact", text: str(row.contact) + " · " + str(row.language) })
        ]),
        el("button", { type: "button", className: "nw-btn nw-btn--small", text: "Done",
          "aria-label": "Callback for " + row.case_id + " done",
          onclick: function () { send({ type: "callback_done", case_id: row.case_id, note: "" }); } })
      ]));
    });
    $("nw-callbacks-count").textContent = String(state.callbacks.length);
    $("nw-callbacks-count").classList.toggle("nw-count--alert", state.callbacks.some(function (r) { return r.overdue; }));
    show($("nw-callbacks-empty"), state.callbacks.length === 0);
  }

  function renderAgents() {
    var supervisor = !!(state.agent && state.agent.role === "supervisor");
    show($("nw-agents-panel"), supervisor);
    var body = $("nw-agents");
    clear(body);
    var ids = $("nw-agent-ids");
    clear(ids);
    state.agents.forEach(function (row) {
      var full = Number(row.load) >= Number(row.max_chats);
      body.appendChild(el("tr", {}, [
        el("td", { text: str(row.name) }),
        el("td", {}, [el("span", { className: "nw-presence-dot nw-presence-dot--" + str(row.presence), "aria-hidden": "true" }),
          " " + str(row.presence)]),
        el("td", { className: full ? "nw-full" : "", text: str(row.load) + " / " + str(row.max_chats) })
      ]));
      if (!state.agent || row.agent_id !== state.agent.agent_id) {
        ids.appendChild(el("option", { value: str(row.agent_id), label: str(row.name) + " (" + str(row.presence) + ")" }));
      }
    });
  }

  function renderTabs() {
    var tabs = $("nw-tabs");
    clear(tabs);
    state.order.forEach(function (caseId) {
      var chat = state.chats[caseId];
      var c = chat.case || {};
      var selected = state.active === caseId;
      var tab = el("div", { className: "nw-tab" + (selected ? " nw-tab--active" : "") + (chat.closed ? " nw-tab--closed" : "") }, [
        el("button", { type: "button", role: "tab", className: "nw-tab-button", "aria-selected": selected ? "true" : "false",
          "aria-controls": "nw-chat", "data-case-id": caseId, onclick: function () { activate(caseId); } }, [
          c.emergency ? el("span", { className: "nw-tab-emergency", "aria-label": "emergency", text: "!" }) : null,
          el("span", { className: "nw-tab-id", text: caseId }),
          el("span", { className: "nw-tab-lang", text: str(c.language) }),
          chat.closed ? el("span", { className: "nw-tab-closed", text: "closed" }) : null,
          chat.unread ? el("span", { className: "nw-unread", "aria-label": chat.unread + " unread", text: String(chat.unread) }) : null
        ]),
        chat.closed ? el("button", { type: "button", className: "nw-tab-x", "aria-label": "Close tab " + caseId, text: "×",
          onclick: function () { closeTab(caseId); } }) : null
      ]);
      tabs.appendChild(tab);
    });
    show(tabs, state.order.length > 0);
    renderHeader();
  }

  function renderChat() {
    var chat = state.chats[state.active];
    show($("nw-nochat"), !chat);
    show($("nw-chat"), !!chat);
    show($("nw-casecol"), !!chat);
    $("nw-app").classList.toggle("nw-app--nochat", !chat);
    if (!chat) return;
    var c = chat.case || {};
    $("nw-chat-title").textContent = c.case_id + " · " + languageName(c.language) + " · " + str(c.channel);
    var stateNode = $("nw-chat-state");
    stateNode.textContent = chat.closed ? "Closed · " + (CLOSED_TEXT[chat.closed] || chat.closed).toLowerCase() : "Live";
    stateNode.className = "nw-chat-state " + (chat.closed ? "nw-chat-state--closed" : "nw-chat-state--live");
    var input = $("nw-composer-input");
    input.disabled = !!chat.closed;
    input.setAttribute("lang", c.language || "en");
    $("nw-send").disabled = !!chat.closed;
    Array.prototype.forEach.call(document.querySelectorAll("#nw-actions button, #nw-actions select, #nw-actions textarea, #nw-actions input"),
      function (node) { node.disabled = !!chat.closed; });
    renderMessages(true);
    renderTyping();
  }

  function renderMessages(scroll) {
    var chat = state.chats[state.active];
    var list = $("nw-messages");
    if (!chat) { clear(list); return; }
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    clear(list);
    chat.messages.forEach(function (m) { list.appendChild(messageNode(chat, m)); });
    if (chat.closed) {
      list.appendChild(el("li", { className: "nw-msg nw-msg--closed" }, [
        el("div", { className: "nw-msg-text", text: "Chat closed: " + (CLOSED_TEXT[chat.closed] || chat.closed) })
      ]));
    }
    if (scroll || nearBottom) list.scrollTop = list.scrollHeight;
  }

  function messageNode(chat, m) {
    var author = AUTHOR_LABEL[m.author] ? m.author : "system";
    var who = author === "agent" ? (m.agentName || "Agent") : AUTHOR_LABEL[author];
    var classes = "nw-msg nw-msg--" + author + (m.pending ? " nw-msg--pending" : "") + (m.failed ? " nw-msg--failed" : "")
      + (m.kind && m.kind !== "message" ? " nw-msg--kind-" + String(m.kind).replace(/[^a-z_]/gi, "") : "");
    var status = null;
    if (m.pending) {
      status = m.failed
        ? el("span", { className: "nw-msg-status" }, ["Not delivered · ",
          el("button", { type: "button", className: "nw-linkbtn", text: "Retry", onclick: function () { retryPending(chat, m); } })])
        : el("span", { className: "nw-msg-status", text: m.queued ? "Waiting for the connection…" : "Sending…" });
    }
    var buttons = m.buttons && m.buttons.length
      ? el("div", { className: "nw-msg-buttons" }, m.buttons.map(function (b) {
        return el("span", { className: "nw-msg-chip", text: str(b && b.title) });
      }))
      : null;
    return el("li", { className: classes, "data-id": m.id || "", "data-client-id": m.clientId || "",
      "data-author": author, lang: author === "customer" || author === "system" || author === "bot" ? (chat.case.language || "en") : null }, [
      el("div", { className: "nw-msg-meta" }, [
        el("span", { className: "nw-msg-who", text: who + (m.kind && m.kind !== "message" && author !== "system" ? " · " + m.kind : "") }),
        el("time", { className: "nw-msg-time", datetime: m.at || "", text: clock(m.at) })
      ]),
      // textContent only: a customer can write anything, including markup.
      el("div", { className: "nw-msg-text", text: m.text }),
      buttons,
      status
    ]);
  }

  function renderTyping() {
    var chat = state.chats[state.active];
    var node = $("nw-typing");
    if (chat && chat.customerTyping && Date.now() - chat.customerTypingAt > CUSTOMER_TYPING_MAX_MS) chat.customerTyping = false;
    node.textContent = chat && chat.customerTyping && !chat.closed ? "customer is typing…" : "";
  }

  function renderCase() {
    var chat = state.chats[state.active];
    var body = $("nw-case-body");
    clear(body);
    if (!chat) return;
    var c = chat.case || {}, fields = c.fields || {}, customer = c.customer || {};
    var sla = el("dd", { className: "nw-sla", "data-due": str(c.sla_due) });
    var rows = [
      ["Case", el("dd", { className: "nw-mono", text: str(c.case_id) })],
      ["Priority", el("dd", {}, [priorityBadge(c.priority), c.emergency ? badge("EMERGENCY", "emergency") : null,
        c.needs_authority ? badge("needs authority", "mid") : null])],
      ["SLA due", sla],
      ["Language", el("dd", { text: languageName(c.language) })],
      ["Channel", el("dd", { text: str(c.channel) })],
      ["Category", el("dd", { text: str(c.category) })]
    ];
    FIELD_LABELS.forEach(function (pair) {
      var value = fields[pair[0]];
      rows.push([pair[1], el("dd", { className: value ? "" : "nw-muted", lang: pair[0] === "description" || pair[0] === "incident_date" ? c.language : null,
        text: value ? str(value) : "—" })]);
    });
    rows.push(["Customer tier", el("dd", { text: str(customer.value_tier || "standard") })]);
    rows.push(["Reasons", el("dd", {}, (c.reasons || []).length
      ? c.reasons.map(function (r) { return badge(str(r), "reason"); }) : [el("span", { className: "nw-muted", text: "—" })])]);
    rows.push(["Frustration", el("dd", {}, [(c.frustration || []).length ? sparkline(c.frustration) : el("span", { className: "nw-muted", text: "—" })])]);
    if (c.transfer_note) rows.push(["Transfer note", el("dd", { text: str(c.transfer_note) })]);
    var dl = el("dl", { className: "nw-case-fields" });
    rows.forEach(function (pair) {
      dl.appendChild(el("dt", { text: pair[0] }));
      dl.appendChild(pair[1]);
    });
    body.appendChild(dl);
    body.appendChild(el("h3", { className: "nw-subtitle", text: "Summary" }));
    body.appendChild(el("p", { className: "nw-case-summary", text: str(c.summary) || "—" }));
    body.appendChild(el("h3", { className: "nw-subtitle", text: "Past cases" }));
    var past = customer.past_cases || [];
    if (!past.length) body.appendChild(el("p", { className: "nw-muted", text: "None." }));
    else {
      body.appendChild(el("ul", { className: "nw-past" }, past.map(function (p) {
        return el("li", {}, [el("span", { className: "nw-mono", text: str(p.case_id) }), " " + str(p.category) + " · ",
          badge(str(p.status), p.status === "resolved" ? "low" : "mid")]);
      })));
    }
    tickSla();
  }

  function tickSla() {
    Array.prototype.forEach.call(document.querySelectorAll(".nw-sla"), function (node) {
      var due = Date.parse(node.getAttribute("data-due") || "");
      if (isNaN(due)) { node.textContent = "—"; return; }
      var left = (due - Date.now()) / 1000;
      node.textContent = dateTime(new Date(due).toISOString()) + (left < 0 ? " — overdue by " + duration(-left) : " — in " + duration(left));
      node.classList.toggle("nw-sla--overdue", left < 0);
    });
  }

  /** A tiny inline bar chart of values in 0..1 (frustration per turn). */
  function sparkline(values) {
    var numbers = values.map(function (v) { return Math.max(0, Math.min(1, Number(v) || 0)); });
    var chart = el("span", { className: "nw-spark", role: "img",
      "aria-label": "frustration per turn: " + numbers.map(function (v) { return v.toFixed(1); }).join(", ") });
    numbers.slice(-20).forEach(function (v) {
      var bar = el("span", { className: "nw-spark-bar" + (v >= 0.7 ? " nw-spark-bar--high" : v >= 0.4 ? " nw-spark-bar--mid" : ""),
        title: v.toFixed(2) });
      bar.style.height = Math.max(8, Math.round(v * 100)) + "%"; // CSSOM, allowed by the CSP
      chart.appendChild(bar);
    });
    return chart;
  }

  function renderCanned() {
    var chat = state.chats[state.active];
    var box = $("nw-canned");
    clear(box);
    if (!chat) return;
    var language = chat.case.language || "en";
    Object.keys(state.canned).forEach(function (code) {
      var reply = state.canned[code] || {};
      var text = reply[language] || reply.en || "";
      box.appendChild(el("button", { type: "button", className: "nw-canned-item", title: text, lang: language,
        disabled: !!chat.closed, "data-code": code, onclick: function () { insertCanned(code); } }, [
        el("span", { className: "nw-canned-code", text: code.replace(/_/g, " ") }),
        el("span", { className: "nw-canned-text", text: text })
      ]));
    });
    if (!Object.keys(state.canned).length) box.appendChild(el("p", { className: "nw-muted", text: "No canned replies." }));
  }

  // --- screens ---

  function showSignIn() {
    state.signedIn = false;
    show($("nw-signin"), true);
    show($("nw-app"), false);
    show($("nw-header-agent"), false);
    $("nw-signin-submit").disabled = false;
    window.setTimeout(function () { $("nw-signin-name").focus(); }, 0);
  }

  function showApp() {
    show($("nw-signin"), false);
    show($("nw-app"), true);
    $("nw-signin-error").textContent = "";
    $("nw-signin-password").value = "";
  }

  // --- wiring ---

  function wire() {
    try { state.sound = window.localStorage.getItem(SOUND_KEY) !== "off"; } catch (e) { state.sound = true; }

    $("nw-signin-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var name = $("nw-signin-name").value.trim();
      var password = $("nw-signin-password").value;
      if (!name || !password) {
        $("nw-signin-error").textContent = "Enter your name and password.";
        return;
      }
      $("nw-signin-error").textContent = "";
      if (!rawSend({ type: "sign_in", name: name, password: password })) {
        $("nw-signin-error").textContent = "Not connected yet; try again in a moment.";
        return;
      }
      $("nw-signin-submit").disabled = true;
    });

    $("nw-sign-out").addEventListener("click", function () {
      rawSend({ type: "sign_out" });
      storeToken(null);
      state.agent = null;
      resetWork();
      state.queue = [];
      state.callbacks = [];
      state.agents = [];
      renderAll();
      showSignIn();
    });

    $("nw-presence").addEventListener("change", function (event) {
      var status = event.target.value;
      if (send({ type: "presence", status: status }) && state.agent) state.agent.presence = status;
      renderHeader();
    });

    $("nw-sound-toggle").addEventListener("click", function () {
      state.sound = !state.sound;
      try { window.localStorage.setItem(SOUND_KEY, state.sound ? "on" : "off"); } catch (e) { /* ignore */ }
      renderHeader();
    });

    var input = $("nw-composer-input");
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault(); // Enter sends; Shift+Enter is a new line; IME composition is left alone
        sendMessage();
      }
    });
    input.addEventListener("input", agentTyping);
    $("nw-composer").addEventListener("submit", function (event) {
      event.preventDefault();
      sendMessage();
    });

    $("nw-resolve-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var chat = state.chats[state.active];
      if (!chat || chat.closed) return;
      if (send({ type: "resolve", case_id: chat.caseId, resolution_code: $("nw-resolve-code").value,
        note: $("nw-resolve-note").value })) $("nw-resolve-note").value = "";
    });

    $("nw-transfer-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var chat = state.chats[state.active];
      if (!chat || chat.closed) return;
      var toAgent = document.querySelector("input[name='nw-transfer-to']:checked").value === "agent";
      var frame = { type: "transfer", case_id: chat.caseId, note: $("nw-transfer-note").value };
      if (toAgent) {
        var target = $("nw-transfer-agent").value.trim();
        if (!target) {
          toast("Transfer", "Enter the id of the agent to transfer to.");
          $("nw-transfer-agent").focus();
          return;
        }
        frame.to_agent_id = target;
      }
      if (send(frame)) $("nw-transfer-note").value = "";
    });
    $("nw-transfer-agent").addEventListener("input", function () {
      document.querySelector("input[name='nw-transfer-to'][value='agent']").checked = true;
    });

    $("nw-handback-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var chat = state.chats[state.active];
      if (!chat || chat.closed) return;
      if (send({ type: "hand_back", case_id: chat.caseId, note: $("nw-handback-note").value })) $("nw-handback-note").value = "";
    });

    // Keyboard: Alt+1..9 switches chat tabs; arrow keys move between tabs.
    document.addEventListener("keydown", function (event) {
      if (event.altKey && event.key >= "1" && event.key <= "9") {
        var caseId = state.order[Number(event.key) - 1];
        if (caseId) { event.preventDefault(); activate(caseId); }
      }
    });
    $("nw-tabs").addEventListener("keydown", function (event) {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      var at = state.order.indexOf(state.active);
      if (at < 0) return;
      var next = state.order[(at + (event.key === "ArrowRight" ? 1 : -1) + state.order.length) % state.order.length];
      activate(next);
      var button = document.querySelector(".nw-tab-button[data-case-id='" + CSS.escape(next) + "']");
      if (button) button.focus();
    });

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && state.active && state.chats[state.active]) {
        state.chats[state.active].unread = 0;
        renderTabs();
      }
    });

    window.setInterval(function () {
      tickOffers();
      tickQueue();
      tickSla();
      // Drop offers that lapsed without a withdrawal frame (clock skew, lost frame).
      var now = Date.now(), changed = false;
      Object.keys(state.offers).forEach(function (id) {
        if (state.offers[id].expiresAt + 5000 < now) { delete state.offers[id]; changed = true; }
      });
      if (changed) renderOffers();
      renderTyping();
    }, 1000);

    window.addEventListener("online", function () { if (!state.ws) connect(); });
  }

  wire();
  connect();
})();
