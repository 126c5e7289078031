"""Helpers for the full handoff test: a Rasa stack with handoff settings, and a customer's socket.

The customer's WebSocket runs in its own thread with its own event loop: Playwright's sync
API keeps an event loop in the test's thread, and websockets 10 has no sync client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional
from zoneinfo import ZoneInfo

import websockets
from websockets.exceptions import ConnectionClosed

from tests.support.stack import Stack

Frame = Dict[str, Any]
BUSINESS_ZONE = "Asia/Shanghai"


def open_hours_around_now(zone: str = BUSINESS_ZONE) -> Dict[str, str]:
    """HANDOFF_* variables for business hours that surely include the next few hours.

    A fixed 00:00-23:59 would be closed in the last minute of the day; hours from two
    hours ago to three hours ahead (wrapping past midnight where needed) never are.
    """
    now = datetime.now(ZoneInfo(zone))
    return {
        "HANDOFF_TIMEZONE": zone,
        "HANDOFF_BUSINESS_OPEN": (now - timedelta(hours=2)).strftime("%H:%M"),
        "HANDOFF_BUSINESS_CLOSE": (now + timedelta(hours=3)).strftime("%H:%M"),
    }


@dataclass
class HandoffStack(Stack):
    """The real Rasa server and action server, with extra environment (business hours, offers)."""

    extra_env: Dict[str, str] = field(default_factory=dict)

    def environment(self) -> Dict[str, str]:
        """Stack's variables plus the extra ones; the bridge gets the same."""
        env = super().environment()
        env.update(self.extra_env)
        return env

    def start_with_retries(self, log_dir: Path, attempts: int = 3, pause_s: float = 30.0) -> HandoffStack:
        """Start; when Rasa fails to load (a model being retrained right now), wait and try again."""
        for attempt in range(1, attempts + 1):
            try:
                self.start(log_dir)
                return self
            except (RuntimeError, TimeoutError):
                self.stop()
                self.processes.clear()
                if attempt == attempts:
                    raise
                time.sleep(pause_s)
        return self

    def new_session(self) -> Dict[str, str]:
        """POST /webhooks/webchat/session: {"token", "conversation_id"}."""
        request = urllib.request.Request(
            f"{self.base_url}/webhooks/webchat/session", data=b"{}", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            return dict(json.loads(response.read()))

    def socket_url(self, token: str) -> str:
        """The widget's WebSocket URL for a session token."""
        return f"ws://127.0.0.1:{self.rasa_port}/webhooks/webchat/ws?token={token}"


class CustomerSocket:
    """The web widget's side: one WebSocket, every frame it received, usable from sync code."""

    def __init__(self, url: str) -> None:
        self.frames: List[Frame] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="customer-socket", daemon=True)
        self._thread.start()
        # websockets 10 binds a connection to the loop current when connect() is called: call it there.
        self._socket: Any = self._call(lambda: websockets.connect(url, open_timeout=20, max_size=2**20))
        self._reader = asyncio.run_coroutine_threadsafe(self._read(), self._loop)

    def _call(self, make: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run `await make()` on the socket's loop and wait for the result."""

        async def wrapped() -> Any:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result(timeout)

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                with self._lock:
                    self.frames.append(json.loads(raw))
        except ConnectionClosed:
            pass

    def send(self, **frame: Any) -> None:
        """Send one JSON frame."""
        data = json.dumps(frame, ensure_ascii=False)
        self._call(lambda: self._socket.send(data))

    def say(self, text: str) -> str:
        """Send a customer message; its client_id."""
        client_id = uuid.uuid4().hex[:12]
        self.send(type="message", text=text, client_id=client_id)
        return client_id

    def mark(self) -> int:
        """How many frames came so far (to look only at later ones)."""
        with self._lock:
            return len(self.frames)

    def since(self, mark: int) -> List[Frame]:
        """The frames received after a mark."""
        with self._lock:
            return list(self.frames[mark:])

    def wait_for(self, wanted: Callable[[Frame], bool], timeout: float, what: str, after: int = 0) -> Frame:
        """The first frame after `after` that matches; AssertionError naming `what` after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            for frame in self.since(after):
                if wanted(frame):
                    return frame
            if time.monotonic() > deadline:
                raise AssertionError(f"the customer got no {what} within {timeout:.0f} s; frames: {self.since(after)}")
            if self._reader.done():
                raise AssertionError(f"the customer's socket closed while waiting for {what}")
            time.sleep(0.1)

    def quiet(self, seconds: float) -> List[Frame]:
        """Every frame until none came for `seconds`."""
        mark = self.mark()
        seen = mark
        last_change = time.monotonic()
        while time.monotonic() - last_change < seconds:
            time.sleep(0.1)
            now = self.mark()
            if now != seen:
                seen, last_change = now, time.monotonic()
        return self.since(mark)

    def close(self) -> None:
        """Close the socket and stop the thread."""
        with contextlib.suppress(Exception):  # an already broken socket
            self._call(self._socket.close, timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


def message_from(author: str, kind: Optional[str] = None) -> Callable[[Frame], bool]:
    """Matches a `message` frame by author (and kind, when given)."""
    return lambda frame: (
        frame.get("type") == "message" and frame.get("author") == author
        and (kind is None or frame.get("kind") == kind)
    )


def state_is(owner: str) -> Callable[[Frame], bool]:
    """Matches a `state` frame naming an owner."""
    return lambda frame: frame.get("type") == "state" and frame.get("owner") == owner
