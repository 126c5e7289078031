"""Check 3: training examples: duplicates, near-duplicates, counts, intents, held-out leaks."""

from __future__ import annotations

from collections import defaultdict
from difflib import SequenceMatcher
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from .report import Finding, error, show_path, warning
from .yamlio import Example, first_line_of, load_yaml_or_finding

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
MIN_EXAMPLES = 25
NEAR_DUPLICATE_RATIO = 0.9
NEAR_DUPLICATE_MIN_LENGTH = 6


def place(example: Example) -> str:
    """'file line N' for an example, for use inside a message."""
    return f"{show_path(example.path)} line {example.line}"


def group_by_text(examples: Sequence[Example]) -> Dict[str, List[Example]]:
    """Examples grouped by their comparable text (annotations removed, case and spaces ignored)."""
    groups: Dict[str, List[Example]] = defaultdict(list)
    for example in examples:
        if example.key:
            groups[example.key].append(example)
    return groups


def check_cross_intent_duplicates(examples: Sequence[Example]) -> List[Finding]:
    """Error when the same example teaches two different intents."""
    findings = []
    for group in group_by_text(examples).values():
        first_by_intent: Dict[str, Example] = {}
        for example in group:
            first_by_intent.setdefault(example.intent, example)
        intents = list(first_by_intent.values())
        for other in intents[1:]:
            first = intents[0]
            findings.append(error(
                f"the example \"{other.plain.strip()}\" is in both intent '{first.intent}' ({place(first)}) "
                f"and intent '{other.intent}'. An example can only teach one intent; remove one of them.",
                other.path, other.line,
            ))
    return findings


def check_same_intent_duplicates(examples: Sequence[Example]) -> List[Finding]:
    """Warning when an intent has the same example twice in one language folder.

    The same words in two language folders (\"你好\" in zh-Hans and zh-Hant, \"ok\" in all three)
    are deliberate: each language keeps its own complete set.
    """
    findings = []
    for group in group_by_text(examples).values():
        seen: Dict[Tuple[str, str], Example] = {}
        for example in group:
            slot = (language_of(example), example.intent)
            if slot in seen:
                findings.append(warning(
                    f"the example \"{example.plain.strip()}\" appears twice in intent '{example.intent}' "
                    f"(also {place(seen[slot])}). Remove the repeat.",
                    example.path, example.line,
                ))
            else:
                seen[slot] = example
    return findings


def similar(a: str, b: str, threshold: float) -> bool:
    """True when two texts are at least `threshold` alike (difflib ratio, with cheap pre-checks)."""
    if 2 * min(len(a), len(b)) / (len(a) + len(b)) < threshold:
        return False
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= threshold
        and matcher.quick_ratio() >= threshold
        and matcher.ratio() >= threshold
    )


def check_near_duplicates(
    examples: Sequence[Example],
    threshold: float = NEAR_DUPLICATE_RATIO,
    min_length: int = NEAR_DUPLICATE_MIN_LENGTH,
) -> List[Finding]:
    """Warning when two almost identical examples teach different intents."""
    unique: Dict[Tuple[str, str], Example] = {}
    for example in examples:
        if len(example.key) >= min_length:
            unique.setdefault((example.key, example.intent), example)
    items = sorted(unique.values(), key=lambda e: len(e.key))
    findings = []
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if 2 * len(a.key) / (len(a.key) + len(b.key)) < threshold:
                break  # sorted by length: every later text is even longer
            if a.intent != b.intent and a.key != b.key and similar(a.key, b.key, threshold):
                findings.append(warning(
                    f"the example \"{b.plain.strip()}\" (intent '{b.intent}') is almost the same as "
                    f"\"{a.plain.strip()}\" (intent '{a.intent}', {place(a)}). Such examples confuse the "
                    "assistant; make them clearly different or move one to the right intent.",
                    b.path, b.line,
                ))
    return findings


def language_of(example: Example) -> str:
    """The language folder an example file sits in (data/nlu/<language>/...)."""
    return example.path.parent.name


def check_example_counts(
    examples: Sequence[Example],
    intents: Sequence[str],
    languages: Sequence[str] = LANGUAGES,
    minimum: int = MIN_EXAMPLES,
) -> List[Finding]:
    """Error when an intent has fewer than `minimum` examples in a language folder."""
    counts: Dict[Tuple[str, str], int] = defaultdict(int)
    folders: Dict[str, Path] = {}
    for example in examples:
        counts[(language_of(example), example.intent)] += 1
        folders.setdefault(language_of(example), example.path.parent)
    findings = []
    for language in languages:
        for intent in intents:
            count = counts[(language, intent)]
            if count < minimum:
                folder = folders.get(language)
                findings.append(error(
                    f"intent '{intent}' has only {count} {language} example{'' if count == 1 else 's'}"
                    f"{' in ' + show_path(folder) + '/' if folder else ''}; it needs at least {minimum} "
                    "so the assistant can learn it in this language.",
                ))
    return findings


def load_domain_intents(domain_paths: Sequence[Path]) -> Tuple[Dict[str, Tuple[Path, int]], List[Finding]]:
    """The intents declared in the domain files, with where each is declared."""
    intents: Dict[str, Tuple[Path, int]] = {}
    findings: List[Finding] = []
    for path in domain_paths:
        data, problems = load_yaml_or_finding(path)
        findings.extend(problems)
        for entry in (data.get("intents") if isinstance(data, dict) else None) or []:
            name = next(iter(entry)) if isinstance(entry, dict) else str(entry)
            intents.setdefault(str(name), (path, first_line_of(path, f"- {name}") or 0))
    return intents, findings


def check_domain_intents(
    examples: Sequence[Example], declared: Dict[str, Tuple[Path, int]]
) -> List[Finding]:
    """Error when an intent has examples but is not in the domain, or the other way round."""
    findings = []
    first_use: Dict[str, Example] = {}
    for example in examples:
        first_use.setdefault(example.intent, example)
    for intent, example in sorted(first_use.items()):
        if intent not in declared:
            findings.append(error(
                f"intent '{intent}' has examples but is not listed under `intents:` in bot/domain/core.yml. "
                "Add it there (and a rule that answers it), or fix the intent name.",
                example.path, example.line,
            ))
    for intent, (path, line) in sorted(declared.items()):
        if intent not in first_use:
            findings.append(error(
                f"intent '{intent}' is listed in the domain but has no training examples in data/nlu/.",
                path, line or None,
            ))
    return findings


def check_holdout_leaks(training: Sequence[Example], holdout: Sequence[Example]) -> List[Finding]:
    """Error when a held-out test example is also in the training data."""
    trained = group_by_text(training)
    findings = []
    for example in holdout:
        for copy in trained.get(example.key, [])[:1]:
            findings.append(error(
                f"the training example \"{copy.plain.strip()}\" is copied from the held-out test set "
                f"({place(example)}). Held-out examples must never be trained on, or the evaluation "
                "means nothing; reword or remove the training example.",
                copy.path, copy.line,
            ))
    return findings


def check_examples(
    training: Sequence[Example], holdout: Sequence[Example], declared: Dict[str, Tuple[Path, int]]
) -> List[Finding]:
    """Check 3 on loaded examples: all example checks together."""
    return (
        check_cross_intent_duplicates(training)
        + check_same_intent_duplicates(training)
        + check_near_duplicates(training)
        + check_example_counts(training, sorted(declared))
        + check_domain_intents(training, declared)
        + check_holdout_leaks(training, holdout)
    )
