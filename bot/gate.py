"""The handoff gate: the one place that decides whether a customer message reaches the bot.

Every input channel wraps its `on_new_message` with `HandoffGate.wrap`. Each customer
message is appended to the conversation log; while an agent owns the conversation it
stops there (the agent reads it from the log), otherwise it goes to Rasa, and every
bot reply is appended to the log as well. When Redis is unreachable the bot still
answers: a customer is never left without a reply because of the log.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

import redis.asyncio as aioredis
from rasa.core.channels.channel import OutputChannel, UserMessage

from handoff import conversation_log, ownership
from handoff.keys import Keys
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class HandoffGate:
    """Routes customer messages by the conversation's owner; connects to Redis on first use."""

    def __init__(self, client: Optional[aioredis.Redis] = None, keys: Optional[Keys] = None) -> None:
        self._client = client
        self._keys = keys

    def redis(self) -> Tuple[aioredis.Redis, Keys]:
        """The client and key names, created from REDIS_URL / REDIS_KEY_PREFIX when first needed."""
        if self._client is None or self._keys is None:
            settings = HandoffSettings.from_env()
            self._client = aioredis.from_url(
                settings.redis_url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5
            )
            self._keys = Keys(settings.key_prefix)
        return self._client, self._keys

    def wrap(self, on_new_message: OnNewMessage, channel_name: str) -> OnNewMessage:
        """The channel's handler with the gate in front of it."""

        async def gated(message: UserMessage) -> Any:
            return await self.handle(message, on_new_message, channel_name)

        return gated

    async def handle(self, message: UserMessage, on_new_message: OnNewMessage, channel_name: str) -> Any:
        """Log the customer's message, then hand it to Rasa unless an agent owns the conversation."""
        conversation_id = message.sender_id
        await self._log_customer(message, channel_name)
        state = await self._owner_state(conversation_id)
        if state == ownership.AGENT:
            return None  # the agent reads it from the log; the bot stays out of human conversations
        if state == ownership.CLOSED:
            await self._reopen(conversation_id)
        message.output_channel = LoggingOutputChannel(message.output_channel, self, conversation_id)
        return await on_new_message(message)

    async def log_bot(self, conversation_id: str, reply: Dict[str, Any]) -> None:
        """Append one bot reply to the log; a failure is logged and never stops the reply."""
        extra: Dict[str, str] = {}
        if reply.get("buttons"):
            extra["buttons"] = json.dumps(reply["buttons"], ensure_ascii=False)
        if reply.get("custom"):
            extra["custom"] = json.dumps(reply["custom"], ensure_ascii=False)
        try:
            client, keys = self.redis()
            await conversation_log.append(client, keys, conversation_id, "bot", str(reply.get("text") or ""), **extra)
        except Exception:  # Redis down must not silence the bot
            logger.exception("Could not append a bot reply to the log of %s; it is sent anyway", conversation_id)

    async def _log_customer(self, message: UserMessage, channel_name: str) -> None:
        """Append the customer's message (payloads as kind "payload"); keep going if Redis fails."""
        text = message.text or ""
        kind = "payload" if text.startswith("/") else "message"
        # The widget's own id for the message, so its echo replaces the pending bubble.
        client_id = str((message.metadata or {}).get("client_id") or "")
        extra = {"client_id": client_id} if client_id else {}
        try:
            client, keys = self.redis()
            await conversation_log.append(
                client, keys, message.sender_id, "customer", text, kind, channel=channel_name, **extra
            )
        except Exception:
            logger.exception(
                "Could not append a customer message to the log of %s; passing it to the bot anyway",
                message.sender_id,
            )

    async def _owner_state(self, conversation_id: str) -> str:
        """Who owns the conversation; the bot when Redis cannot say."""
        try:
            client, keys = self.redis()
            return (await ownership.current(client, keys, conversation_id)).state
        except Exception:
            logger.exception("Could not read the owner of %s; letting the bot answer", conversation_id)
            return ownership.BOT

    async def _reopen(self, conversation_id: str) -> None:
        """A customer writing into a closed conversation starts again with the bot."""
        try:
            client, keys = self.redis()
            await ownership.reopen_for_customer(client, keys, conversation_id)
        except Exception:
            logger.exception("Could not reopen %s for the bot", conversation_id)


class LoggingOutputChannel(OutputChannel):
    """Sends through the channel's own output and appends every bot message to the log."""

    def __init__(self, inner: OutputChannel, gate: HandoffGate, conversation_id: str) -> None:
        self.inner = inner
        self.gate = gate
        self.conversation_id = conversation_id

    @classmethod
    def name(cls) -> str:
        """A name for logs; the real channel is `inner`."""
        return "handoff_gate"

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Log the reply, then deliver it exactly as the channel would."""
        await self.gate.log_bot(self.conversation_id, message)
        await self.inner.send_response(recipient_id, message)


@lru_cache(maxsize=1)
def default_gate() -> HandoffGate:
    """The process-wide gate (no connection is made until the first message)."""
    return HandoffGate()
