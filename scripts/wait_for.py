"""Wait until a Redis URL answers PING or an HTTP URL answers 200; exit 1 on timeout."""

from __future__ import annotations

import sys
import time
import urllib.request

import redis


def ready(kind: str, target: str) -> bool:
    """One attempt."""
    try:
        if kind == "redis":
            return bool(redis.Redis.from_url(target, socket_timeout=1).ping())
        with urllib.request.urlopen(target, timeout=2) as response:
            return bool(response.status == 200)
    except Exception:
        return False


def wait(kind: str, target: str, seconds: float) -> bool:
    """Poll until ready or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready(kind, target):
            return True
        time.sleep(0.5)
    return False


if __name__ == "__main__":
    kind, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    if not wait(kind, target, seconds):
        print(f"{target} did not become ready within {seconds:.0f} s", file=sys.stderr)
        sys.exit(1)
