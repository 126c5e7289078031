"""Check 2: responses named in rules, stories and actions exist; unused responses are flagged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Dict, Iterator, List, Sequence, Set, Tuple

from .report import Finding, error, warning
from .yamlio import key_line, load_yaml_or_finding

NAME_IN_CODE = re.compile(r"\butter_[A-Za-z0-9_]+")
QUOTED_NAME = re.compile(r"""(?<![A-Za-z0-9_{])["'](utter_[A-Za-z0-9_]+)["']""")
FSTRING_PREFIX = re.compile(r"""\bf["'](utter_[A-Za-z0-9_]*)\{""")
# Responses Rasa itself uses: the default fallback reply.
BUILT_IN = {"utter_default"}


@dataclass(frozen=True)
class Reference:
    """A place that names a response."""

    name: str
    path: Path
    line: int


def walk_actions(node: Any) -> Iterator[Tuple[str, int]]:
    """Every `action: utter_...` step (name, line) anywhere in a loaded rules/stories file."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "action" and isinstance(value, str) and value.startswith("utter_"):
                yield value, key_line(node, key)
            else:
                yield from walk_actions(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_actions(item)


def story_references(paths: Sequence[Path]) -> Tuple[List[Reference], List[Finding]]:
    """Every response named by an `action:` step in the given rules/stories files."""
    references: List[Reference] = []
    findings: List[Finding] = []
    for path in paths:
        data, problems = load_yaml_or_finding(path)
        findings.extend(problems)
        references.extend(Reference(name, path, line) for name, line in walk_actions(data))
    return references, findings


def code_usage(paths: Sequence[Path]) -> Tuple[Set[str], Set[str], List[Reference]]:
    """From Python files: names mentioned, f-string prefixes (like utter_ack_), and quoted names with lines."""
    names: Set[str] = set()
    prefixes: Set[str] = set()
    quoted: List[Reference] = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            names.update(NAME_IN_CODE.findall(line))
            prefixes.update(p for p in FSTRING_PREFIX.findall(line) if p != "utter_")
            quoted.extend(Reference(name, path, number) for name in QUOTED_NAME.findall(line))
    return names, prefixes, quoted


def form_ask_responses(domain_paths: Sequence[Path]) -> Set[str]:
    """utter_ask_<slot> and utter_ask_<form>_<slot> names that Rasa forms use on their own."""
    asked: Set[str] = set()
    for path in domain_paths:
        data, _ = load_yaml_or_finding(path)
        forms = data.get("forms") if isinstance(data, dict) else None
        for form, spec in (forms or {}).items():
            for slot in (spec or {}).get("required_slots") or []:
                asked.update({f"utter_ask_{slot}", f"utter_ask_{form}_{slot}"})
    return asked


def check_missing(references: Sequence[Reference], defined: Collection[str], how: str) -> List[Finding]:
    """An error for every reference to a response that is not defined."""
    return [
        error(
            f"{how} the response '{ref.name}', but no response with that name exists in "
            "bot/domain/responses/. Add it (with en, zh-Hans and zh-Hant variants) or fix the name.",
            ref.path, ref.line,
        )
        for ref in references
        if ref.name not in defined
    ]


def check_unused(
    defined: Dict[str, Tuple[Path, int]], used_names: Set[str], prefixes: Set[str]
) -> List[Finding]:
    """A warning for every response nobody uses (rules, stories, actions, forms or Rasa itself)."""
    return [
        warning(
            f"the response '{name}' is never used by a rule, story, form or action. "
            "Remove it, or add the rule/story that should use it.",
            path, line,
        )
        for name, (path, line) in sorted(defined.items())
        if name not in used_names and name not in BUILT_IN and not name.startswith(tuple(prefixes))
    ]


def check_references(
    defined: Dict[str, Tuple[Path, int]],
    story_paths: Sequence[Path],
    action_paths: Sequence[Path],
    domain_paths: Sequence[Path],
) -> List[Finding]:
    """Check 2: referenced responses exist; warn on responses that nothing uses."""
    references, findings = story_references(story_paths)
    names, prefixes, quoted = code_usage(action_paths)
    findings += check_missing(references, defined, "this rule/story uses")
    findings += check_missing(quoted, defined, "this action uses")
    used = {ref.name for ref in references} | names | form_ask_responses(domain_paths)
    findings += check_unused(defined, used, prefixes)
    return findings
