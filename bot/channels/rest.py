"""Rasa's REST channel with strict input validation: same URL, same JSON protocol."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.inbound import InboundError, parse_rest_body
from bot.gate import default_gate

logger = logging.getLogger(__name__)


class SafeRestInput(RestInput):
    """POST /webhooks/rest/webhook; bad bodies get a 4xx JSON error and change nothing."""

    @classmethod
    def name(cls) -> str:
        """Keep Rasa's channel name so integrations and URLs stay the same."""
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The health route and the validated webhook, behind the handoff gate."""
        module = inspect.getmodule(self)
        on_new_message = default_gate().wrap(on_new_message, self.name())
        webhook = Blueprint("safe_rest_webhook", module.__name__ if module else None)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                inbound = parse_rest_body(request.body or b"")
            except InboundError as error:
                logger.info("Rejected REST body: %s", error.code)
                return response.json(error.as_json(), status=error.status)
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    inbound.text,
                    collector,
                    inbound.sender_id,
                    input_channel=self.name(),
                    metadata=inbound.metadata,
                )
            )
            return response.json(collector.messages)

        return webhook
