"""Start the real action server and Rasa server for conversation tests, and talk to them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_http(url: str, seconds: float, process: subprocess.Popen) -> None:
    """Poll a URL until it answers 200; fail early when the process died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {seconds} s")


@dataclass
class Stack:
    """A running Rasa server and action server bound to one Redis key prefix."""

    redis_url: str
    prefix: str
    rasa_port: int = field(default_factory=free_port)
    action_port: int = field(default_factory=free_port)
    token: str = "test-token"
    processes: List[subprocess.Popen] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Where the Rasa server listens."""
        return f"http://127.0.0.1:{self.rasa_port}"

    def environment(self) -> Dict[str, str]:
        """Variables endpoints.yml and the actions read."""
        from scripts.redis_env import exports

        env = dict(os.environ)
        for line in exports(self.redis_url, self.prefix).splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value.strip("'")
        env.update(
            REDIS_URL=self.redis_url,
            REDIS_KEY_PREFIX=self.prefix,
            ACTION_ENDPOINT_URL=f"http://127.0.0.1:{self.action_port}/webhook",
            RASA_TELEMETRY_ENABLED="false",
            WEBCHAT_SECRET="test-webchat-secret-" + self.prefix,
            PYTHONPATH=str(ROOT),
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        return env

    def start(self, log_dir: Path) -> Stack:
        """Launch both servers and wait until they answer."""
        log_dir.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        actions = self._spawn(
            [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(self.action_port)],
            env, log_dir / "actions.log",
        )
        rasa = self._spawn(
            [sys.executable, "-m", "bot.server", "run", "-m", "models", "--enable-api", "--auth-token", self.token,
             "--port", str(self.rasa_port), "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"],
            env, log_dir / "rasa.log",
        )
        wait_http(f"http://127.0.0.1:{self.action_port}/health", 120, actions)
        wait_http(f"{self.base_url}/", 300, rasa)
        return self

    def _spawn(self, command: List[str], env: Dict[str, str], log: Path) -> subprocess.Popen:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        """Terminate both servers."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def post_raw(self, body: bytes) -> tuple[int, Any]:
        """POST raw bytes to the REST webhook; (status, decoded JSON body)."""
        request = urllib.request.Request(
            f"{self.base_url}/webhooks/rest/webhook", data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def say(self, sender: str, message: str) -> List[Dict[str, Any]]:
        """Send one customer message; return the bot's replies."""
        status, replies = self.post_raw(json.dumps({"sender": sender, "message": message}).encode())
        assert status == 200, replies
        return list(replies)

    def tracker(self, sender: str) -> Dict[str, Any]:
        """The conversation tracker through Rasa's HTTP API."""
        url = f"{self.base_url}/conversations/{sender}/tracker?token={self.token}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return dict(json.loads(response.read()))


def texts(replies: List[Dict[str, Any]]) -> str:
    """All reply texts joined, for assertions."""
    return "\n".join(str(reply.get("text") or "") for reply in replies)


def buttons(replies: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """All buttons offered in the replies."""
    return [button for reply in replies for button in (reply.get("buttons") or [])]


def find_case_id(replies: List[Dict[str, Any]]) -> Optional[str]:
    """The case number the bot announced, if any."""
    import re

    match = re.search(r"CMP-\d{8}-\d{4,}", texts(replies))
    return match.group(0) if match else None
