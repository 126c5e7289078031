"""The customer WebSocket channel "webchat" for the web widget.

POST /webhooks/webchat/session gives a signed session token (a new conversation, or
the same one again for a valid old token). WS /webhooks/webchat/ws?token=... then
replays the conversation log after the widget's `resume` id and tails it, so every
entry (customer echoes, bot replies, agent messages, system notices) reaches the
widget exactly once and in order, across reconnects. Customer messages go through
the handoff gate; the bot's replies come back through the log, not directly.
Frames are described in handoff/PROTOCOL.md ("Customer protocol (webchat)").
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple

import redis.asyncio as aioredis
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import WebsocketClosed
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.exceptions import ConnectionClosed

from bot.channels import session_token
from bot.channels import webchat_frames as frames
from bot.channels.session_token import InvalidToken
from bot.channels.webchat_frames import FrameError, MessageFrame, PingFrame, ResumeFrame, TypingFrame
from handoff import conversation_log, ownership
from handoff.conversation_log import LogEntry
from handoff.keys import Keys
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

CHANNEL = "webchat"
RESUME_WAIT_S = 2.0
POLL_S = 1.0
TAIL_BLOCK_MS = 5000
# A resent client_id within this time is recognised and not processed again.
CLIENT_ID_TTL_S = 24 * 3600
# Messages acknowledged but not yet through the gate, per connection.
MAX_PENDING_MESSAGES = 20
# Log entries the customer never sees (agents' private notes).
HIDDEN_KINDS = frozenset({"note", "internal"})
CLOSE_INVALID_TOKEN = 4401
CLOSE_INTERNAL = 1011
_CLOSED = (ConnectionClosed, WebsocketClosed)


class WebchatInput(InputChannel):
    """The web widget's channel: session tokens over HTTP, the conversation over one WebSocket."""

    def __init__(self, secret: Optional[str] = None, token_max_age_s: Optional[float] = None) -> None:
        self._secret = secret
        self._token_max_age_s = token_max_age_s
        self._client: Optional[aioredis.Redis] = None
        self._keys: Optional[Keys] = None
        # Message workers outlive their socket so an acknowledged message is always answered.
        self._workers: Set[asyncio.Task] = set()

    @classmethod
    def name(cls) -> str:
        """The channel name, also the URL prefix: /webhooks/webchat/."""
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        """Build from credentials.yml; the secret comes from WEBCHAT_SECRET, never from the file."""
        max_age = (credentials or {}).get("token_max_age_s")
        return cls(token_max_age_s=float(max_age) if max_age else None)

    def secret(self) -> str:
        """The signing secret: WEBCHAT_SECRET, or a random one for this process (with one warning)."""
        if self._secret is None:
            configured = os.environ.get("WEBCHAT_SECRET", "")
            if configured:
                self._secret = configured
            else:
                logger.warning(
                    "WEBCHAT_SECRET is not set: web chat session tokens are signed with a random secret "
                    "of this process. Widgets lose their conversation when it restarts, and tokens do not "
                    "work across several Rasa instances. Set WEBCHAT_SECRET (scripts/run.sh does)."
                )
                self._secret = session_token.new_secret()
        return self._secret

    def token_max_age_s(self) -> float:
        """How long a session token stays valid (WEBCHAT_TOKEN_MAX_AGE_S, default 30 days)."""
        if self._token_max_age_s is None:
            configured = os.environ.get("WEBCHAT_TOKEN_MAX_AGE_S")
            self._token_max_age_s = float(configured) if configured else float(session_token.DEFAULT_MAX_AGE_S)
        return self._token_max_age_s

    def redis(self) -> tuple[aioredis.Redis, Keys]:
        """The Redis client (created on first use, in the server's event loop) and the key names."""
        if self._client is None or self._keys is None:
            settings = HandoffSettings.from_env()
            # The socket timeout must outlast a blocking read of the log (TAIL_BLOCK_MS).
            self._client = aioredis.from_url(
                settings.redis_url,
                decode_responses=True,
                socket_connect_timeout=2,
                socket_timeout=TAIL_BLOCK_MS / 1000 + 5,
            )
            self._keys = Keys(settings.key_prefix)
        return self._client, self._keys

    def keep_worker(self, task: asyncio.Task) -> None:
        """Hold a reference to a message worker until it finishes."""
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """GET / (health), POST /session and WS /ws."""
        module = inspect.getmodule(self)
        webchat = Blueprint("webchat_webhook", module.__name__ if module else None)
        gated = _gated(on_new_message)
        self.secret()  # warn at start-up, not at the first customer

        @webchat.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webchat.route("/session", methods=["POST"])
        async def session(request: Request) -> HTTPResponse:
            return self.open_session(request.body or b"")

        @webchat.websocket("/ws")
        async def ws(request: Request, ws: WebsocketImplProtocol) -> None:
            await self.serve_socket(request, ws, gated)

        return webchat

    def open_session(self, body: bytes) -> HTTPResponse:
        """A token for a new conversation, or a fresh token for the conversation of a valid old one."""
        try:
            old = frames.parse_session_body(body)
        except FrameError as problem:
            return response.json({"error": problem.code, "detail": problem.detail}, status=400)
        conversation_id: Optional[str] = None
        if old is not None:
            try:
                conversation_id = session_token.verify(old, self.secret(), self.token_max_age_s())
            except InvalidToken as invalid:
                return response.json(_token_error(invalid), status=401)
        token, conversation_id = session_token.issue(self.secret(), conversation_id)
        return response.json({"token": token, "conversation_id": conversation_id})

    async def serve_socket(self, request: Request, ws: WebsocketImplProtocol, gated: OnNewMessage) -> None:
        """Check the token, then run one customer connection until either side closes it."""
        try:
            conversation_id = session_token.verify(
                request.args.get("token", ""), self.secret(), self.token_max_age_s()
            )
        except InvalidToken as invalid:
            await ws.close(CLOSE_INVALID_TOKEN, f"invalid session token: {invalid.reason}")
            return
        client, keys = self.redis()
        connection = _Connection(self, ws, client, keys, conversation_id, gated)
        try:
            await connection.run()
        except _CLOSED:
            pass
        except Exception:
            logger.exception("Web chat connection of %s failed", conversation_id)
            await _close_quietly(ws, CLOSE_INTERNAL, "internal error")


class _Connection:
    """One widget socket of one conversation: replay and tail the log, take the customer's frames."""

    def __init__(
        self,
        channel: WebchatInput,
        ws: WebsocketImplProtocol,
        client: aioredis.Redis,
        keys: Keys,
        conversation_id: str,
        gated: OnNewMessage,
    ) -> None:
        self.channel = channel
        self.ws = ws
        self.client = client
        self.keys = keys
        self.conversation_id = conversation_id
        self.gated = gated
        self.send_lock = asyncio.Lock()
        self.pending: asyncio.Queue[Optional[MessageFrame]] = asyncio.Queue()
        # Messages of this socket on their way into the log: (log id before it, text, client_id).
        self.expected: List[Tuple[str, str, str]] = []

    async def run(self) -> None:
        """Wait for `resume`, send the owner state, then push, watch and read until something ends."""
        last_id, first = await self.opening()
        owner = await ownership.current(self.client, self.keys, self.conversation_id)
        await self.send(frames.state(owner.state))
        worker = asyncio.create_task(self.process_messages(), name=f"webchat-messages-{self.conversation_id}")
        self.channel.keep_worker(worker)
        tasks = [
            asyncio.create_task(self.push_log(last_id)),
            asyncio.create_task(self.watch(owner.state)),
            asyncio.create_task(self.read_frames(first)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                problem = None if task.cancelled() else task.exception()
                if problem is not None:
                    raise problem
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Let the worker finish what was acknowledged, then stop.
            self.pending.put_nowait(None)

    async def opening(self) -> tuple[str, Optional[frames.ClientFrame]]:
        """The id to replay after (from a `resume` sent within RESUME_WAIT_S, else "0-0") and any other first frame."""
        raw = await self.ws.recv(timeout=RESUME_WAIT_S)
        if raw is None:
            return "0-0", None
        try:
            frame = frames.parse_client_frame(raw)
        except FrameError as problem:
            await self.send(problem.as_frame())
            return "0-0", None
        if isinstance(frame, ResumeFrame):
            return frame.last_id, None
        return "0-0", frame

    async def push_log(self, after: str) -> None:
        """Send every log entry after `after`, then each new one, in order and never twice."""
        cursor = after
        while True:
            found = await conversation_log.tail(
                self.client, self.keys, {self.conversation_id: cursor}, block_ms=TAIL_BLOCK_MS
            )
            for _, entry in found:
                if entry.kind not in HIDDEN_KINDS:
                    await self.send(entry_frame(entry, self.client_id_of(entry)))
                cursor = entry.id

    async def watch(self, owner: str) -> None:
        """Send `state` when the owner changes and `typing` when the agent starts or stops typing."""
        agent_typing = False
        while True:
            await asyncio.sleep(POLL_S)
            now = await ownership.current(self.client, self.keys, self.conversation_id)
            if now.state != owner:
                owner = now.state
                await self.send(frames.state(owner))
            typing = await conversation_log.is_typing(self.client, self.keys, self.conversation_id, "agent")
            if typing != agent_typing:
                agent_typing = typing
                await self.send(frames.typing("agent", typing))

    def client_id_of(self, entry: LogEntry) -> Optional[str]:
        """The widget's client_id for the echo of a message this socket sent, matched by text and position."""
        if entry.author != "customer":
            return None
        stored = entry.extra.get("client_id")
        if stored:
            return stored
        for index, (before, text, client_id) in enumerate(self.expected):
            if text == entry.text and frames.stream_id_after(entry.id, before):
                del self.expected[index]
                return client_id
        return None

    async def read_frames(self, first: Optional[frames.ClientFrame]) -> None:
        """Handle the customer's frames until the socket closes."""
        if first is not None:
            await self.handle(first)
        while True:
            raw = await self.ws.recv()
            if raw is None:
                continue
            try:
                frame = frames.parse_client_frame(raw)
            except FrameError as problem:
                await self.send(problem.as_frame())
                continue
            await self.handle(frame)

    async def handle(self, frame: frames.ClientFrame) -> None:
        """Act on one valid frame."""
        if isinstance(frame, MessageFrame):
            await self.accept_message(frame)
        elif isinstance(frame, TypingFrame):
            await conversation_log.set_typing(self.client, self.keys, self.conversation_id, "customer", frame.on)
        elif isinstance(frame, PingFrame):
            await self.send(frames.pong())
        elif isinstance(frame, ResumeFrame):
            await self.send(
                frames.error("invalid_state", "`resume` is only accepted as the first frame of a connection.", "resume")
            )

    async def accept_message(self, frame: MessageFrame) -> None:
        """Acknowledge a message and queue it for the gate, unless its client_id was already taken."""
        if self.pending.qsize() >= MAX_PENDING_MESSAGES:
            await self.send(
                frames.error("too_many_messages", "Please wait for the answer before sending more.", "message")
            )
            return
        key = self.keys.webchat_client_id(self.conversation_id, frame.client_id)
        claimed = await self.client.set(key, "1", nx=True, ex=CLIENT_ID_TTL_S)
        if not claimed:
            await self.send(frames.ack(frame.client_id, duplicate=True))
            return
        self.pending.put_nowait(frame)
        await self.send(frames.ack(frame.client_id))

    async def process_messages(self) -> None:
        """Pass queued messages through the gate one by one; the replies arrive through the log."""
        while True:
            frame = await self.pending.get()
            if frame is None:
                return
            expected = (
                await conversation_log.last_id(self.client, self.keys, self.conversation_id),
                frame.text.strip(),
                frame.client_id,
            )
            self.expected = self.expected[-(MAX_PENDING_MESSAGES - 1) :] + [expected]
            try:
                await self.gated(
                    UserMessage(
                        frame.text,
                        CollectingOutputChannel(),
                        self.conversation_id,
                        input_channel=CHANNEL,
                        metadata={"client_id": frame.client_id},
                    )
                )
            except Exception:
                logger.exception("Web chat message of %s failed", self.conversation_id)
                if expected in self.expected:
                    self.expected.remove(expected)
                # Let the widget retry it with the same client_id.
                await self.client.delete(self.keys.webchat_client_id(self.conversation_id, frame.client_id))
                await self.send_quietly(
                    frames.error("internal", "Your message could not be processed; please send it again.", "message")
                )

    async def send(self, frame: frames.Frame) -> None:
        """Send one frame; frames from the tasks of a connection never interleave."""
        async with self.send_lock:
            await self.ws.send(frames.encode(frame))

    async def send_quietly(self, frame: frames.Frame) -> None:
        """Send a frame if the socket is still open."""
        try:
            await self.send(frame)
        except Exception:  # noqa: BLE001 - the socket may be long gone; the log keeps the conversation
            logger.debug("Could not send a frame to a closed web chat socket")


def entry_frame(entry: LogEntry, client_id: Optional[str] = None) -> frames.Frame:
    """A log entry as the `message` frame the widget shows (`client_id` on the echo of its own message)."""
    return frames.message(
        entry.id,
        entry.author,
        entry.text,
        entry.ts,
        buttons=frames.decode_buttons(entry.extra.get("buttons")),
        kind=entry.kind,
        client_id=client_id,
    )


def _token_error(invalid: InvalidToken) -> Dict[str, str]:
    """The 401 body for a token that cannot be used."""
    return {
        "error": "invalid_token",
        "reason": invalid.reason,
        "detail": f"The session token cannot be used ({invalid.reason}); start a new session without it.",
    }


def _gated(on_new_message: OnNewMessage) -> OnNewMessage:
    """Rasa's message handler behind the handoff gate."""
    from bot.gate import default_gate

    return default_gate().wrap(on_new_message, CHANNEL)


async def _close_quietly(ws: WebsocketImplProtocol, code: int, reason: str) -> None:
    """Close a socket that may already be closed."""
    try:
        await ws.close(code, reason)
    except Exception:  # noqa: BLE001 - closing a broken socket may fail; nothing is left to do
        logger.debug("Closing a broken web chat socket failed")
