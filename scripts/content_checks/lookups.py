"""Check 5: keyword lists (lookup tables) and their synonym blocks agree."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from .report import Finding, error, show_path, warning
from .yamlio import ListItem, load_lists, normalise


def synonym_index(paths: Sequence[Path]) -> Dict[str, List[Tuple[str, ListItem]]]:
    """For every word in any synonym block: the (value, item) pairs it appears in."""
    index: Dict[str, List[Tuple[str, ListItem]]] = {}
    for path in paths:
        for value, items in load_lists(path, "synonym").items():
            for item in items:
                index.setdefault(normalise(item.text), []).append((value, item))
    return index


def check_synonym_conflicts(index: Dict[str, List[Tuple[str, ListItem]]]) -> List[Finding]:
    """Error when a word is in synonym blocks with different values; warning when repeated."""
    findings = []
    for entries in index.values():
        (first_value, first), rest = entries[0], entries[1:]
        for value, item in rest:
            where = f"{show_path(first.path)} line {first.line}"
            if value != first_value:
                findings.append(error(
                    f"the word \"{item.text}\" is in synonym block '{value}' and also in '{first_value}' "
                    f"({where}). A word can only mean one thing; keep it in one block.",
                    item.path, item.line,
                ))
            elif item.path == first.path:
                findings.append(warning(
                    f"the word \"{item.text}\" is listed twice in synonym block '{value}' (also {where}).",
                    item.path, item.line,
                ))
    return findings


def check_lookup_file(path: Path) -> List[Finding]:
    """Every lookup word of one file is in exactly one of its synonym blocks (or is a block name)."""
    synonyms = load_lists(path, "synonym")
    values = {normalise(value) for value in synonyms}
    in_blocks: Dict[str, List[str]] = {}
    for value, items in synonyms.items():
        for item in items:
            in_blocks.setdefault(normalise(item.text), []).append(value)
    findings = []
    looked_up = set()
    for table, items in load_lists(path, "lookup").items():
        for item in items:
            word = normalise(item.text)
            looked_up.add(word)
            if not in_blocks.get(word) and word not in values:
                findings.append(error(
                    f"the word \"{item.text}\" is in the keyword list '{table}' but in no `synonym:` block, so "
                    f"the assistant finds the word but does not know which {table} it means. Add it under the "
                    "right `- synonym:` block in this file.",
                    item.path, item.line,
                ))
    for value, items in synonyms.items():
        for item in items:
            if normalise(item.text) not in looked_up:
                findings.append(warning(
                    f"the word \"{item.text}\" (synonym block '{value}') is not in this file's keyword list, "
                    "so it is only recognised when the model itself learns it. Add it to the `lookup:` list too.",
                    item.path, item.line,
                ))
    return findings


def check_lookups(paths: Sequence[Path]) -> List[Finding]:
    """Check 5 on the keyword list files."""
    findings = check_synonym_conflicts(synonym_index(paths))
    for path in paths:
        findings.extend(check_lookup_file(path))
    return findings
