"""The handoff bridge: agent consoles over WebSocket, the health check and the console files.

    python -m handoff.bridge        # settings from the environment (handoff.settings)

One port serves `GET /health`, `GET /` with the static files of handoff/console/, and
the agent WebSocket at `/agent` (PROTOCOL.md). The bridge keeps nothing in memory that
a restart would lose: per socket only the socket and its relay cursors (handoff.relay);
cases, owners, queue, sessions, presence, offers and which consoles are open live in
Redis, so several bridges can serve one Redis side by side:

- frames for an agent (offers, closed cases) go through the agent's inbox stream, which
  every socket of that agent tails, whichever bridge it is on;
- each open socket is a member of the agent's connections set with an expiry that a
  heartbeat pushes forward; an agent with chats and no live member for
  `reconnect_grace_s` gets their chats put back in the queue at their old place;
- one bridge at a time (a leader key with a short expiry) runs the offer loop: it offers
  waiting cases to available, connected agents, withdraws lapsed offers, and does the
  grace sweep. Takes, picks and releases are atomic anyway, so a second leader for a
  moment does no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import math
import mimetypes
import re
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Set, Tuple

import redis.asyncio as aioredis
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.server import WebSocketServer, WebSocketServerProtocol
from websockets.server import serve as ws_serve

from handoff import agents as agent_store
from handoff import conversation_log, ownership, protocol, relay
from handoff import queue as handoff_queue
from handoff.agents import Agent, Session
from handoff.casework import CaseError, Casework
from handoff.enriched import iso, load_case, summary_row
from handoff.keys import Keys
from handoff.notices import Notices, load_canned_replies
from handoff.protocol import Frame, ProtocolError
from handoff.relay import Link
from handoff.routing import choose_agent
from handoff.settings import HandoffSettings

log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent / "console"
AGENT_PATH = "/agent"
OFFER_TICK_S = 0.5
HEARTBEAT_S = 2.0
CONNECTION_TTL_S = 10.0  # a socket whose bridge stopped heartbeating counts as gone after this
LEADER_TTL_MS = 3000
BROADCAST_EVERY_S = 5.0
GONE_TTL_S = 24 * 3600
STATIC_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}

HttpResponse = Tuple[http.HTTPStatus, List[Tuple[str, str]], bytes]


# --- HTTP: pure helpers ---


def json_response(status: http.HTTPStatus, body: Dict[str, Any]) -> HttpResponse:
    """A small JSON HTTP response."""
    data = json.dumps(body).encode("utf-8")
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                    ("Cache-Control", "no-store")], data


def static_response(console_dir: Path, path: str) -> HttpResponse:
    """A file straight inside the console folder, or 404; `/` is index.html."""
    name = path.split("?", 1)[0].split("#", 1)[0].lstrip("/") or "index.html"
    suffix = Path(name).suffix.lower()
    if not STATIC_NAME.match(name) or suffix not in STATIC_TYPES:
        return _not_found()
    file = console_dir / name
    try:
        if file.is_symlink() or not file.is_file():
            return _not_found()
        data = file.read_bytes()
    except OSError:
        return _not_found()
    headers = [
        ("Content-Type", STATIC_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"),
        ("Content-Length", str(len(data))),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    return http.HTTPStatus.OK, headers, data


def _not_found() -> HttpResponse:
    """404 with a short text body."""
    data = b"not found\n"
    return http.HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain; charset=utf-8"),
                                       ("Content-Length", str(len(data)))], data


def agent_dict(agent: Agent) -> Dict[str, Any]:
    """The `agent` object of `welcome`."""
    return {
        "agent_id": agent.agent_id,
        "name": agent.name,
        "role": agent.role,
        "skills": sorted(agent.skills),
        "languages": sorted(agent.languages),
        "may_approve_compensation": agent.may_approve_compensation,
        "max_chats": agent.max_chats,
        "presence": agent.presence,
    }


# --- one socket ---


@dataclass(eq=False)
class Connection:
    """One console socket: the socket, and while signed in its session token, agent and relay."""

    ws: WebSocketServerProtocol
    conn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    token: Optional[str] = None
    agent: Optional[Agent] = None
    link: Optional[Link] = None
    relay_task: Optional[asyncio.Task] = None

    async def send(self, frame: Dict[str, Any]) -> None:
        """Send a frame; a socket that closed meanwhile is ignored (its handler cleans up)."""
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(protocol.encode(frame))


Handler = Callable[[Connection, Frame, Agent], Awaitable[None]]


class Bridge:
    """The bridge process: the server, its sockets and its background loops."""

    def __init__(
        self,
        settings: HandoffSettings,
        console_dir: Optional[Path] = None,
        responses_path: Optional[Path] = None,
        canned_path: Optional[Path] = None,
    ) -> None:
        self.settings = settings
        self.console_dir = console_dir or CONSOLE_DIR
        self.keys = Keys(settings.key_prefix)
        self.client: aioredis.Redis = aioredis.from_url(
            settings.redis_url, decode_responses=True, socket_connect_timeout=2
        )
        self.casework = Casework(self.client, self.keys, settings, Notices(responses_path))
        self.canned = load_canned_replies(canned_path)
        self.instance_id = uuid.uuid4().hex[:12]
        self.connections: Set[Connection] = set()
        self.server: Optional[WebSocketServer] = None
        self.tasks: List[asyncio.Task] = []
        self.wake = asyncio.Event()
        self.running = False
        self._last_queue: Optional[List[Tuple[str, int]]] = None
        self._last_broadcast = 0.0
        self.handlers: Dict[str, Handler] = {
            "sign_out": self.on_sign_out,
            "presence": self.on_presence,
            "accept": self.on_accept,
            "decline": self.on_decline,
            "pick": self.on_pick,
            "message": self.on_message,
            "typing": self.on_typing,
            "transfer": self.on_transfer,
            "resolve": self.on_resolve,
            "hand_back": self.on_hand_back,
            "sync": self.on_sync,
            "callback_done": self.on_callback_done,
        }

    # --- lifecycle ---

    @property
    def port(self) -> int:
        """The port the server listens on (useful with port 0)."""
        assert self.server is not None
        return int(next(iter(self.server.sockets)).getsockname()[1])

    async def start(self) -> None:
        """Listen and start the background loops."""
        self.server = await ws_serve(
            self.handle,
            self.settings.host,
            self.settings.port,
            process_request=self.process_request,
            # Frames up to 4x the limit are read and answered with frame_too_large;
            # beyond that the library closes the socket (1009) before we see them.
            max_size=self.settings.max_frame_bytes * 4,
        )
        self.running = True
        for loop in (self.offer_loop, self.heartbeat_loop, self.broadcast_loop, self.queue_listener):
            self.tasks.append(asyncio.create_task(self._guarded(loop)))
        log.info("bridge %s listening on %s:%s", self.instance_id, self.settings.host, self.port)

    async def stop(self) -> None:
        """Close every socket (handlers clean up), stop the loops and the Redis pool."""
        self.running = False
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        with contextlib.suppress(Exception):
            await self.client.delete(self.keys.bridge_leader())  # let another bridge lead at once
        await self.client.close()
        await self.client.connection_pool.disconnect()

    async def _guarded(self, loop: Callable[[], Awaitable[None]]) -> None:
        """Run a background loop until stop: an error is logged and the loop starts again."""
        while self.running:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background loop %s failed; restarting it", loop.__name__)
                await asyncio.sleep(1.0)

    # --- HTTP ---

    async def process_request(self, path: str, headers: Headers) -> Optional[HttpResponse]:
        """Answer plain HTTP requests; let WebSocket handshakes to /agent through."""
        route = path.split("?", 1)[0]
        if route == AGENT_PATH:
            return None
        if route == "/health":
            return await self.health()
        return static_response(self.console_dir, route)

    async def health(self) -> HttpResponse:
        """200 when Redis answers PING, else 503."""
        try:
            await asyncio.wait_for(self.client.ping(), timeout=2.0)
        except Exception as problem:  # any failure to reach Redis means unhealthy
            log.warning("health check: Redis unreachable: %s", problem)
            return json_response(http.HTTPStatus.SERVICE_UNAVAILABLE, {"status": "degraded", "redis": "unreachable"})
        return json_response(http.HTTPStatus.OK, {"status": "ok", "redis": "ok"})

    # --- one socket ---

    async def handle(self, ws: WebSocketServerProtocol) -> None:
        """Serve one console socket until it closes."""
        conn = Connection(ws)
        self.connections.add(conn)
        try:
            async for raw in ws:
                await self.receive(conn, raw)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("agent socket %s failed", conn.conn_id)
            await ws.close(1011, "internal error")
        finally:
            self.connections.discard(conn)
            try:
                await self.detach(conn)
            except Exception:
                log.exception("cleaning up agent socket %s failed", conn.conn_id)

    async def receive(self, conn: Connection, raw: Any) -> None:
        """Validate and dispatch one frame; problems are answered with an `error` frame."""
        try:
            frame = protocol.parse(raw, self.settings.max_frame_bytes)
        except ProtocolError as problem:
            await conn.send(protocol.from_error(problem))
            return
        try:
            await self.dispatch(conn, frame)
        except CaseError as problem:
            await conn.send(protocol.error(problem.code, problem.detail, frame.type))

    async def dispatch(self, conn: Connection, frame: Frame) -> None:
        """Route a valid frame to its handler, checking the session first."""
        if frame.type == "ping":
            await conn.send(protocol.pong())
            return
        if frame.type == "sign_in":
            await self.on_sign_in(conn, frame)
            return
        if frame.type == "resume_session":
            await self.on_resume(conn, frame)
            return
        agent = await self.current_agent(conn)
        await self.handlers[frame.type](conn, frame, agent)

    async def current_agent(self, conn: Connection) -> Agent:
        """The signed-in agent, read fresh; not_signed_in or session_expired otherwise."""
        if conn.token is None:
            raise CaseError("not_signed_in", "sign in first")
        session = await agent_store.session(self.client, self.keys, conn.token)
        agent = await agent_store.get_agent(self.client, self.keys, session.agent_id) if session else None
        if agent is None:
            await self.detach(conn)
            raise CaseError("session_expired", "your session has ended; sign in again")
        conn.agent = agent
        return agent

    # --- sessions ---

    async def on_sign_in(self, conn: Connection, frame: Frame) -> None:
        """Check name and password; a new session."""
        session = await agent_store.sign_in(
            self.client, self.keys, frame.text("name"), frame.text("password"), self.settings.session_ttl_s
        )
        if session is None:
            raise CaseError("bad_credentials", "wrong name or password")
        await self.attach(conn, session)

    async def on_resume(self, conn: Connection, frame: Frame) -> None:
        """Re-attach with a token from an earlier `welcome`."""
        token = frame.text("token")
        session = await agent_store.session(self.client, self.keys, token)
        if session is None:
            raise CaseError("session_expired", "that session has ended; sign in again")
        await self.attach(conn, session)

    async def on_sign_out(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """End the session; the socket stays open, signed out."""
        assert conn.token is not None
        await agent_store.sign_out(self.client, self.keys, conn.token)
        await self.detach(conn)

    async def attach(self, conn: Connection, session: Session) -> None:
        """Bind a socket to a session: liveness, welcome with the chats, then the relay."""
        await self.detach(conn)
        token, agent_id = session.token, session.agent_id
        agent = await agent_store.get_agent(self.client, self.keys, agent_id)
        if agent is None:
            raise CaseError("bad_credentials", "that account no longer exists")
        if agent.presence == "offline":
            await agent_store.set_presence(self.client, self.keys, agent_id, "available")
            agent = replace(agent, presence="available")
        conn.token, conn.agent = token, agent
        await self.mark_alive(conn)
        await self.client.delete(self.keys.agent_gone(agent_id))
        link = Link(conn.conn_id, agent_id, conn.send)
        link.inbox_cursor = await relay.inbox_end(self.client, self.keys, agent_id)
        chats = []
        for conversation_id, case_id in (await relay.held_conversations(self.client, self.keys, agent_id)).items():
            case = await load_case(self.client, self.keys, case_id)
            transcript = case.get("transcript") or []
            link.track(conversation_id, case_id, str(transcript[-1]["id"]) if transcript else "0-0")
            chats.append(case)
        conn.link = link
        expires_at = iso(session.created_at + self.settings.session_ttl_s)  # sessions are not extended
        await conn.send(protocol.welcome(token, expires_at, agent_dict(agent), chats, self.canned))
        for offer in await self.casework.pending_offers(agent_id):
            await conn.send(offer)
        await self.send_views(conn)
        conn.relay_task = asyncio.create_task(relay.run_relay(self.client, self.keys, link))
        conn.relay_task.add_done_callback(lambda task: self._relay_ended(conn, task))
        self.wake.set()

    def _relay_ended(self, conn: Connection, task: asyncio.Task) -> None:
        """A relay that failed closes its socket with 1011 (the handler then cleans up)."""
        if task.cancelled() or task.exception() is None:
            return
        log.error("relay of socket %s failed", conn.conn_id, exc_info=task.exception())
        asyncio.ensure_future(conn.ws.close(1011, "internal error"))

    async def detach(self, conn: Connection) -> None:
        """Unbind a socket from its session: stop its relay; start the grace period if it was the last."""
        task, conn.relay_task = conn.relay_task, None
        if task is not None and conn.link is not None:
            await relay.stop_relay(conn.link, task)
        agent, conn.agent, conn.token, conn.link = conn.agent, None, None, None
        if agent is None:
            return
        key = self.keys.agent_connections(agent.agent_id)
        await self.client.zrem(key, self.member(conn))
        if not await self.casework.is_connected(agent.agent_id):
            await self.client.set(self.keys.agent_gone(agent.agent_id), repr(time.time()), ex=GONE_TTL_S)

    def member(self, conn: Connection) -> str:
        """A socket's member in its agent's connections set."""
        return f"{self.instance_id}:{conn.conn_id}"

    async def mark_alive(self, conn: Connection) -> None:
        """Push the expiry of a socket's liveness forward."""
        async with self.client.pipeline(transaction=True) as pipe:
            self.queue_alive(pipe, conn)
            await pipe.execute()

    def queue_alive(self, pipe: Any, conn: Connection) -> None:
        """Add the commands that renew one socket's liveness to a pipeline."""
        agent = conn.agent
        if agent is None:
            return
        key = self.keys.agent_connections(agent.agent_id)
        pipe.zadd(key, {self.member(conn): time.time() + CONNECTION_TTL_S})
        pipe.zremrangebyscore(key, "-inf", time.time())
        pipe.expire(key, int(CONNECTION_TTL_S * 6))

    # --- agent requests ---

    async def on_presence(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """available / busy / away; chats are kept either way."""
        await agent_store.set_presence(self.client, self.keys, agent.agent_id, frame.text("status"))
        self.wake.set()

    async def on_accept(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """Take an offered case."""
        await self._take(conn, agent, frame.text("case_id"), self.casework.accept)

    async def on_pick(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """Take a waiting case from the queue view."""
        await self._take(conn, agent, frame.text("case_id"), self.casework.pick)

    async def _take(
        self,
        conn: Connection,
        agent: Agent,
        case_id: str,
        how: Callable[[Agent, str], Awaitable[Dict[str, Any]]],
    ) -> None:
        """Take a case and answer `assigned`, keeping this socket's relay from announcing it twice."""
        link = conn.link
        assert link is not None
        link.claiming.add(case_id)
        try:
            case = await how(agent, case_id)
            async with link.lock:
                await link.announce(case)
        finally:
            link.claiming.discard(case_id)
        # The relay may already be blocked on a read that started before the case was
        # announced; wake it so the customer's next message is not held for a read timeout.
        await relay.nudge(self.client, self.keys, agent.agent_id)
        self.wake.set()

    async def on_decline(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """Turn an offer down."""
        await self.casework.decline(agent, frame.text("case_id"))
        self.wake.set()

    async def on_message(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """Relay a message to the customer through the log and echo it with its id."""
        conversation_id, text, client_id = frame.text("conversation_id"), frame.text("text"), frame.text("client_id")
        await self.casework.owned_conversation(agent.agent_id, conversation_id)
        entry_id = await conversation_log.append(
            self.client, self.keys, conversation_id, "agent", text,
            agent_name=agent.name, agent_id=agent.agent_id, client_id=client_id, origin=conn.conn_id,
        )
        await conversation_log.set_typing(self.client, self.keys, conversation_id, "agent", False)
        await conn.send(
            protocol.message(conversation_id, entry_id, "agent", text, iso(time.time()),
                             client_id=client_id or None, agent_name=agent.name)
        )

    async def on_typing(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """Show or hide the agent's typing indicator to the customer."""
        conversation_id = frame.text("conversation_id")
        await self.casework.owned_conversation(agent.agent_id, conversation_id)
        await conversation_log.set_typing(
            self.client, self.keys, conversation_id, "agent", bool(frame.fields["on"])
        )

    async def on_transfer(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """To another agent, or back to the queue."""
        await self.casework.transfer(agent, frame.text("case_id"), frame.opt("to_agent_id"), frame.text("note"))
        self.wake.set()

    async def on_resolve(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """Close a case with a resolution code."""
        await self.casework.resolve(agent, frame.text("case_id"), frame.text("resolution_code"), frame.text("note"))

    async def on_hand_back(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """Back to the bot, which asks for a rating."""
        await self.casework.hand_back(agent, frame.text("case_id"), frame.text("note"))

    async def on_sync(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """Replay each held conversation after the given cursor."""
        link = conn.link
        assert link is not None
        held = await relay.held_conversations(self.client, self.keys, agent.agent_id)
        strangers = []
        async with link.lock:
            for conversation_id, after_id in frame.fields["cursors"].items():
                if conversation_id not in held:
                    strangers.append(conversation_id)
                    continue
                link.track(conversation_id, held[conversation_id], link.cursors.get(conversation_id, after_id))
                await relay.replay(self.client, self.keys, link, conversation_id, after_id)
        if strangers:
            raise CaseError("not_yours", "you do not hold " + ", ".join(sorted(strangers)[:10]))

    async def on_callback_done(self, conn: Connection, frame: Frame, agent: Agent) -> None:
        """Mark a promised callback as made; answer with the list as it is now."""
        await self.casework.callback_done(agent, frame.text("case_id"), frame.text("note"))
        await conn.send(protocol.callbacks(await self.casework.callbacks_due()))

    # --- views: queue, callbacks, agents ---

    async def queue_rows(self) -> List[Dict[str, Any]]:
        """The waiting cases as the queue view lists them."""
        waiting = await handoff_queue.list_waiting(self.client, self.keys, 100)
        if not waiting:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for entry in waiting:
                pipe.hgetall(self.keys.case(entry.case_id))
            cases = await pipe.execute()
        now = time.time()
        return [summary_row(entry, case, now) for entry, case in zip(waiting, cases, strict=True)]

    async def agent_rows(self) -> List[Dict[str, Any]]:
        """Every agent with presence (offline when no console is open) and load."""
        rows = []
        for agent in await agent_store.list_agents(self.client, self.keys):
            connected = await self.casework.is_connected(agent.agent_id)
            rows.append({"agent_id": agent.agent_id, "name": agent.name, "role": agent.role,
                         "presence": agent.presence if connected else "offline",
                         "load": agent.load, "max_chats": agent.max_chats})
        return rows

    async def send_views(self, conn: Connection, rows: Optional[List[Dict[str, Any]]] = None) -> None:
        """Queue and callbacks to one socket; agents too for a supervisor."""
        agent = conn.agent  # the socket may sign out or close while we await below
        if agent is None:
            return
        await conn.send(protocol.queue_view(rows if rows is not None else await self.queue_rows()))
        await conn.send(protocol.callbacks(await self.casework.callbacks_due()))
        if agent.role == "supervisor":
            await conn.send(protocol.agents(await self.agent_rows()))

    async def broadcast_loop(self) -> None:
        """Queue view to every signed-in socket here on change and every 5 s (with callbacks, agents)."""
        while self.running:
            await asyncio.sleep(OFFER_TICK_S)
            signed_in = [conn for conn in self.connections if conn.agent is not None]
            if not signed_in:
                self._last_queue = None
                continue
            rows = await self.queue_rows()
            shape = [(row["case_id"], row["priority"]) for row in rows]
            periodic = time.monotonic() - self._last_broadcast >= BROADCAST_EVERY_S
            if periodic:
                self._last_broadcast = time.monotonic()
                for conn in signed_in:
                    await self.send_views(conn, rows)
                    await self.check_session(conn)
            elif shape != self._last_queue:
                for conn in signed_in:
                    await conn.send(protocol.queue_view(rows))
            self._last_queue = shape

    async def check_session(self, conn: Connection) -> None:
        """Tell a socket whose session ended and stop relaying to it."""
        if conn.token and await agent_store.session(self.client, self.keys, conn.token) is None:
            await self.detach(conn)
            await conn.send(protocol.error("session_expired", "your session has ended; sign in again"))

    async def heartbeat_loop(self) -> None:
        """Keep this bridge's sockets counted as live."""
        while self.running:
            # One round trip for every socket: one transaction per socket in turn took longer
            # than the liveness expiry with 2,000 sockets (bench/bridge_benchmark.py).
            async with self.client.pipeline(transaction=False) as pipe:
                for conn in list(self.connections):
                    self.queue_alive(pipe, conn)
                await pipe.execute()
            await asyncio.sleep(HEARTBEAT_S)

    # --- offers and the grace sweep (one leader at a time) ---

    async def lead(self) -> bool:
        """Become or stay the bridge that runs the offer loop."""
        key = self.keys.bridge_leader()
        if await self.client.set(key, self.instance_id, nx=True, px=LEADER_TTL_MS):
            return True
        if await self.client.get(key) == self.instance_id:
            await self.client.pexpire(key, LEADER_TTL_MS)
            return True
        return False

    async def offer_loop(self) -> None:
        """Every half second (or when woken): offers, lapsed offers, gone agents."""
        while self.running:
            await self.nap(OFFER_TICK_S)
            self.wake.clear()
            if await self.lead():
                await self.offer_round()
                await self.sweep_gone_agents()
                await self.tell_queue_positions()

    async def queue_listener(self) -> None:
        """Wake the offer loop the moment any process queues a case (Redis pub/sub)."""
        pubsub = self.client.pubsub()
        await pubsub.subscribe(self.keys.queue_events())
        try:
            while self.running:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    self.wake.set()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
                await pubsub.close()

    async def nap(self, seconds: float) -> None:
        """Sleep until woken or the time is up.

        Not asyncio.wait_for: on Python 3.10 it can swallow a cancellation that arrives as
        the event fires, and the loop would then never stop.
        """
        waiter = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    async def offer_round(self) -> None:
        """Offer each waiting case not on offer to the best connected, available agent."""
        waiting = await handoff_queue.list_waiting(self.client, self.keys, 100)
        if not waiting:
            return
        owners = [await ownership.current(self.client, self.keys, entry.conversation_id) for entry in waiting]
        async with self.client.pipeline(transaction=False) as pipe:
            for entry in waiting:
                pipe.exists(self.keys.offer(entry.case_id))
            offered = [bool(flag) for flag in await pipe.execute()]
        live = [
            agent for agent in await agent_store.available_agents(self.client, self.keys)
            if await self.casework.is_connected(agent.agent_id)
        ]
        # Offers not yet answered count as load, so one agent does not get every case at once.
        pending = Counter(
            owner.agent_id
            for owner, has_offer in zip(owners, offered, strict=True)
            if owner.state == ownership.OFFERED and has_offer
        )
        for entry, owner, has_offer in zip(waiting, owners, offered, strict=True):
            if owner.state == ownership.OFFERED:
                if has_offer:
                    continue
                await self.casework.expire_offer(entry, owner.agent_id)
            elif owner.state != ownership.QUEUED or has_offer:
                continue
            declined = await self.client.smembers(self.keys.declined(entry.case_id))
            views = [
                replace(agent.view(), load=agent.load + pending[agent.agent_id])
                for agent in live
                if agent.agent_id not in declined
            ]
            chosen = choose_agent(entry, views)
            if chosen and await self.casework.offer_to(entry, chosen.agent_id):
                pending[chosen.agent_id] += 1

    async def tell_queue_positions(self) -> None:
        """Tell each waiting customer their new place and wait when the queue moves."""
        waiting = await handoff_queue.list_waiting(self.client, self.keys, 100)
        if not waiting:
            return
        told_key = self.keys.queue_positions_told()
        told = await self.client.hmget(told_key, [entry.case_id for entry in waiting])
        agents = len(await agent_store.available_agents(self.client, self.keys))
        average = await handoff_queue.average_handle_seconds(
            self.client, self.keys, self.settings.default_handle_minutes * 60
        )
        for place, (entry, before) in enumerate(zip(waiting, told, strict=True), start=1):
            if before is not None and int(before) != place:
                minutes = math.ceil(handoff_queue.wait_estimate_seconds(place, agents, average) / 60)
                language = await self.casework.language_of(entry.case_id, entry)
                await self.casework.notify(
                    entry, "utter_queue_moved", "queue_position", language, position=place, wait_minutes=minutes
                )
            if before is None or int(before) != place:
                await self.client.hset(told_key, entry.case_id, place)

    async def sweep_gone_agents(self) -> None:
        """Agents with chats and no open console for the grace period lose their chats to the queue."""
        now = time.time()
        for agent in await agent_store.list_agents(self.client, self.keys):
            if agent.load == 0:
                continue
            gone_key = self.keys.agent_gone(agent.agent_id)
            if await self.casework.is_connected(agent.agent_id):
                await self.client.delete(gone_key)  # back within the grace period: start over
                continue
            gone_since = await self.client.get(gone_key)
            if gone_since is None:
                await self.client.set(gone_key, repr(now), ex=GONE_TTL_S)
            elif now - float(gone_since) >= self.settings.reconnect_grace_s:
                moved = await self.casework.requeue_chats(agent.agent_id)
                await self.client.delete(gone_key)
                log.info("agent %s gone; %d chats back in the queue", agent.agent_id, len(moved))


@contextlib.asynccontextmanager
async def running_bridge(settings: HandoffSettings, **options: Any) -> AsyncIterator[Bridge]:
    """A started bridge, stopped on exit (port 0 picks a free port: see Bridge.port)."""
    bridge = Bridge(settings, **options)
    await bridge.start()
    try:
        yield bridge
    finally:
        await bridge.stop()


async def serve(settings: HandoffSettings) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with running_bridge(settings):
        await stop.wait()


def main() -> None:
    """Entry point of `python -m handoff.bridge`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("websockets.server").setLevel(logging.WARNING)  # one line per HTTP request otherwise
    asyncio.run(serve(HandoffSettings.from_env()))


if __name__ == "__main__":
    main()
