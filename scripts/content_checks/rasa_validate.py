"""Check 6: run `rasa data validate` and turn its output into plain findings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Collection, List, Optional, Sequence

from .report import Finding, error, warning

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WARNING_PREFIX = re.compile(r"^.*?\.py:\d+: UserWarning:\s*|^.*?\bWARNING\b\s+(\S+\s+-\s+)?")
# Already reported, more precisely, by our own checks (with file and line).
COVERED = (
    re.compile(r"The utterance '.*' is not used in any story or rule"),
    re.compile(r"was found labeled with multiple different intents"),
)
LOG_WARNING = re.compile(r"\bWARNING\b")
INTENT_UNUSED = re.compile(r"The intent '(.*)' is not used in any story or rule")


def rasa_command(root: Path) -> List[str]:
    """The `rasa data validate` command line for this repository."""
    rasa = Path(sys.executable).parent / "rasa"
    return [
        str(rasa) if rasa.exists() else "rasa", "data", "validate",
        "--domain", str(root / "bot" / "domain"), "--data", str(root / "data"),
        "--config", str(root / "config.yml"),
    ]


def run_rasa(root: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `rasa data validate` and capture everything it prints."""
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
               SQLALCHEMY_SILENCE_UBER_WARNING="1", PYTHONWARNINGS="ignore::DeprecationWarning")
    return subprocess.run(
        rasa_command(root), cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def warning_text(line: str) -> Optional[str]:
    """The message of a Rasa warning line, without colour codes and file prefixes (None if not a warning)."""
    line = ANSI.sub("", line).strip()
    if "UserWarning:" not in line and not LOG_WARNING.search(line):
        return None
    return WARNING_PREFIX.sub("", line, count=1).strip() or None


def translate(output: str, returncode: int, intents_used_by_slots: Collection[str] = ()) -> List[Finding]:
    """Findings from Rasa's output: its warnings, and an error when it failed."""
    findings = []
    seen = set()
    for line in output.splitlines():
        text = warning_text(line)
        if text is None or text in seen or any(p.search(text) for p in COVERED):
            continue
        unused = INTENT_UNUSED.search(text)
        if unused and unused.group(1) in intents_used_by_slots:
            continue  # used by a slot mapping in the domain (forms fill slots from it)
        seen.add(text)
        findings.append(warning(f"Rasa's own check says: {text}"))
    if returncode != 0:
        last = [ANSI.sub("", line).strip() for line in output.splitlines() if line.strip()][-3:]
        findings.append(error(
            "Rasa's own check (`rasa data validate`) failed: " + " / ".join(last)
            + " -- run `.venv/bin/rasa data validate --domain bot/domain --data data --config config.yml`"
            " to see everything."
        ))
    return findings


def slot_mapping_intents(domain_data: Sequence[object]) -> List[str]:
    """Intents the domain's slot mappings react to (so they are used even without a rule)."""
    found: List[str] = []
    for data in domain_data:
        slots = data.get("slots") if isinstance(data, dict) else None
        for spec in (slots or {}).values():
            for mapping in (spec or {}).get("mappings") or []:
                intent = mapping.get("intent") if isinstance(mapping, dict) else None
                found.extend([intent] if isinstance(intent, str) else list(intent or []))
    return found


def check_with_rasa(root: Path, domain_data: Sequence[object]) -> List[Finding]:
    """Check 6: run Rasa's validator and translate what it says."""
    try:
        result = run_rasa(root)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [error(f"could not run Rasa's own check (`rasa data validate`): {exc}")]
    return translate(result.stdout + "\n" + result.stderr, result.returncode, slot_mapping_intents(domain_data))
