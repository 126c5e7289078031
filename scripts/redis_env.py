"""Print shell exports that split REDIS_URL into the parts Rasa's endpoints.yml reads."""

from __future__ import annotations

import os
import shlex
from urllib.parse import urlparse


def exports(url: str, prefix: str) -> str:
    """export lines for REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_KEY_PREFIX."""
    parsed = urlparse(url)
    values = {
        "REDIS_HOST": parsed.hostname or "127.0.0.1",
        "REDIS_PORT": str(parsed.port or 6379),
        "REDIS_DB": (parsed.path or "/0").lstrip("/") or "0",
        "REDIS_KEY_PREFIX": prefix,
    }
    return "\n".join(f"export {key}={shlex.quote(value)}" for key, value in values.items())


if __name__ == "__main__":
    print(exports(os.environ["REDIS_URL"], os.environ.get("REDIS_KEY_PREFIX", "northwind")))
