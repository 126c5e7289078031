"""Reading the YAML content files with line numbers (ruamel.yaml round-trip loading)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .report import Finding, error

# [surface text]{"entity": ...} or [surface text](entity) or [surface text](entity:value)
ANNOTATION = re.compile(r"\[([^\]]+)\](\{[^}]*\}|\([^)]*\))")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Span:
    """An annotated entity inside an example, by character positions in the plain text."""

    start: int
    end: int
    text: str
    annotation: str


@dataclass(frozen=True)
class Example:
    """One training (or held-out) example with the intent it teaches and where it is written."""

    intent: str
    raw: str
    plain: str
    spans: Tuple[Span, ...]
    path: Path
    line: int

    @property
    def key(self) -> str:
        """The text used to compare examples: plain, whitespace collapsed, case-insensitive."""
        return normalise(self.plain)


@dataclass(frozen=True)
class ListItem:
    """One '- item' line of a lookup table or synonym block."""

    text: str
    path: Path
    line: int


def load_yaml(path: Path) -> Any:
    """Load a YAML file keeping line numbers (raises YAMLError on broken YAML)."""
    with path.open(encoding="utf-8") as handle:
        return YAML(typ="rt").load(handle)


def load_yaml_or_finding(path: Path) -> Tuple[Any, List[Finding]]:
    """Load a YAML file; on a syntax error return None and an error a person can act on."""
    try:
        return load_yaml(path), []
    except (YAMLError, OSError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [error(
            f"this file cannot be read as YAML ({reason}). Check the indentation and quotes around this line.",
            path, line,
        )]


def key_line(mapping: Any, key: str) -> int:
    """1-based line of `key` in a loaded mapping (0 when unknown)."""
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def item_line(sequence: Any, index: int) -> int:
    """1-based line of item `index` in a loaded list (0 when unknown)."""
    try:
        return int(sequence.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return 0


def normalise(text: str) -> str:
    """Collapse whitespace and ignore case, for comparing examples."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def strip_annotations(text: str) -> Tuple[str, Tuple[Span, ...]]:
    """Plain text of an example and the positions of its annotated entities."""
    plain, spans, pos = "", [], 0
    for match in ANNOTATION.finditer(text):
        plain += text[pos:match.start()]
        spans.append(Span(len(plain), len(plain) + len(match.group(1)), match.group(1), match.group(0)))
        plain += match.group(1)
        pos = match.end()
    return plain + text[pos:], tuple(spans)


def block_items(block: str, first_line: int) -> Iterator[Tuple[str, int]]:
    """The '- item' lines of an `examples: |` block, with their 1-based file line numbers."""
    for offset, line in enumerate(block.splitlines()):
        stripped = line.strip()
        if stripped.startswith("- "):
            yield stripped[2:].strip(), first_line + offset
        elif stripped == "-":
            yield "", first_line + offset


def find_line(lines: Sequence[str], text: str, start: int) -> int:
    """1-based line of the first '- text' at or after line `start` (a fallback line search)."""
    for number in range(max(start, 1), len(lines) + 1):
        stripped = lines[number - 1].strip()
        if stripped.startswith("-") and stripped[1:].strip() == text:
            return number
    return start


def block_entries(path: Path, data: Any, kind: str) -> Iterator[Tuple[str, List[ListItem], int]]:
    """For every '- <kind>: name' block of an NLU file: its name, its items and its line."""
    if not isinstance(data, dict) or not isinstance(data.get("nlu"), list):
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, block in enumerate(data["nlu"]):
        if not isinstance(block, dict) or kind not in block:
            continue
        examples = block.get("examples")
        start = key_line(block, "examples") + 1 if examples is not None else item_line(data["nlu"], index)
        items = []
        for text, guess in block_items(str(examples or ""), start):
            matches = guess <= len(lines) and lines[guess - 1].strip()[1:].strip() == text
            line = guess if matches else find_line(lines, text, start)
            items.append(ListItem(text, path, line))
        yield str(block[kind]), items, item_line(data["nlu"], index)


def load_examples(paths: Sequence[Path]) -> Tuple[List[Example], List[Finding]]:
    """All intent examples in the given NLU files, plus errors for files that cannot be read."""
    examples: List[Example] = []
    findings: List[Finding] = []
    for path in paths:
        data, problems = load_yaml_or_finding(path)
        findings.extend(problems)
        for intent, items, _ in block_entries(path, data, "intent"):
            for item in items:
                plain, spans = strip_annotations(item.text)
                examples.append(Example(intent, item.text, plain, spans, path, item.line))
    return examples, findings


def nlu_files(folder: Path) -> List[Path]:
    """Every .yml/.yaml file under a folder, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def load_lists(path: Path, kind: str) -> Dict[str, List[ListItem]]:
    """The lookup tables (kind='lookup') or synonym blocks (kind='synonym') of one file."""
    data, _ = load_yaml_or_finding(path)
    result: Dict[str, List[ListItem]] = {}
    for name, items, _ in block_entries(path, data, kind):
        result.setdefault(name, []).extend(items)
    return result


def has_chinese(text: str) -> bool:
    """True when the text contains at least one Chinese character."""
    return CJK.search(text) is not None


def first_line_of(path: Path, text: str) -> Optional[int]:
    """1-based line where `text` first appears in a file (None if absent)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    return None
