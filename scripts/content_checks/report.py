"""Findings (errors and warnings) and how they are printed for content editors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

ERROR = "ERROR"
WARNING = "WARNING"


@dataclass(frozen=True)
class Finding:
    """One problem found in the content: its level, where it is, and what to do about it."""

    level: str
    message: str
    path: Optional[Path] = None
    line: Optional[int] = None

    @property
    def is_error(self) -> bool:
        """True for an ERROR (something that must be fixed)."""
        return self.level == ERROR


def show_path(path: Path) -> str:
    """The path as a content editor sees it: relative to the current folder when possible."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def where(path: Optional[Path], line: Optional[int]) -> str:
    """'file line N' (or just 'file', or '') for a place in the content."""
    if path is None:
        return ""
    return f"{show_path(path)} line {line}" if line else show_path(path)


def error(message: str, path: Optional[Path] = None, line: Optional[int] = None) -> Finding:
    """An ERROR finding."""
    return Finding(ERROR, message, path, line)


def warning(message: str, path: Optional[Path] = None, line: Optional[int] = None) -> Finding:
    """A WARNING finding."""
    return Finding(WARNING, message, path, line)


def format_finding(finding: Finding) -> str:
    """One printed line: 'ERROR file line N: message'."""
    place = where(finding.path, finding.line)
    return f"{finding.level} {place}: {finding.message}" if place else f"{finding.level}: {finding.message}"


def sort_findings(findings: Iterable[Finding]) -> List[Finding]:
    """Errors first, then by file and line, so related problems sit together."""
    return sorted(
        findings,
        key=lambda f: (not f.is_error, show_path(f.path) if f.path else "", f.line or 0),
    )


def summary(findings: Sequence[Finding]) -> str:
    """The closing line: 'Content check: N errors, M warnings.'."""
    errors = sum(1 for f in findings if f.is_error)
    warnings = len(findings) - errors
    return (
        f"Content check: {errors} error{'' if errors == 1 else 's'}, "
        f"{warnings} warning{'' if warnings == 1 else 's'}."
    )
