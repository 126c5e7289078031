"""Check 1: every response has en, zh-Hans and zh-Hant variants that say the same thing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from .report import Finding, error, warning
from .yamlio import has_chinese, item_line, key_line, load_yaml_or_finding

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
CHINESE = ("zh-Hans", "zh-Hant")
# {name} is a placeholder; {{ and }} are literal braces (used in button payloads).
HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?/?>")
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


@dataclass(frozen=True)
class Variant:
    """One variant of a response: its language (from the condition), text, buttons and line."""

    language: Optional[str]
    text: str
    titles: Tuple[str, ...]
    payloads: Tuple[str, ...]
    line: int


@dataclass
class Response:
    """A response (utter_...) with all its variants and where it is defined."""

    name: str
    path: Path
    line: int
    variants: List[Variant] = field(default_factory=list)


def variant_language(raw: Any) -> Optional[str]:
    """The value of the `language` slot condition of a variant, or None if it has none."""
    for condition in raw.get("condition") or []:
        if isinstance(condition, dict) and condition.get("type") == "slot" and condition.get("name") == "language":
            return str(condition.get("value"))
    return None


def parse_variant(raw: Any, line: int) -> Variant:
    """Turn one loaded variant mapping into a Variant."""
    buttons = [b for b in (raw.get("buttons") or []) if isinstance(b, dict)]
    return Variant(
        language=variant_language(raw),
        text=str(raw.get("text") or ""),
        titles=tuple(str(b.get("title") or "") for b in buttons),
        payloads=tuple(str(b.get("payload") or "") for b in buttons),
        line=line,
    )


def load_responses(paths: Sequence[Path]) -> Tuple[Dict[str, Response], List[Finding]]:
    """All responses in the given domain files, plus errors for unreadable files and repeated names."""
    responses: Dict[str, Response] = {}
    findings: List[Finding] = []
    for path in paths:
        data, problems = load_yaml_or_finding(path)
        findings.extend(problems)
        block = data.get("responses") if isinstance(data, dict) else None
        if not isinstance(block, dict):
            continue
        for name, raw_variants in block.items():
            response = Response(str(name), path, key_line(block, name))
            if str(name) in responses:
                first = responses[str(name)]
                findings.append(error(
                    f"the response '{name}' is also defined in {first.path.as_posix()} line {first.line}. "
                    "Rasa keeps only one of them; keep all variants of a response in one place.",
                    path, response.line,
                ))
            for index, raw in enumerate(raw_variants or []):
                if isinstance(raw, dict):
                    response.variants.append(parse_variant(raw, item_line(raw_variants, index)))
            responses[str(name)] = response
    return responses, findings


def visible_text(text: str) -> str:
    """The text without {placeholders}, as far as the language check is concerned."""
    return PLACEHOLDER.sub(" ", text)


def placeholders(variant: Variant) -> Set[str]:
    """The {placeholders} used in a variant's text and button titles."""
    found: Set[str] = set()
    for part in (variant.text, *variant.titles):
        found.update(PLACEHOLDER.findall(part))
    return found


def check_languages_present(response: Response) -> List[Finding]:
    """Each language has at least one variant; no variant lacks a language condition."""
    findings = []
    have = {v.language for v in response.variants}
    for language in LANGUAGES:
        if language not in have:
            findings.append(error(
                f"the response '{response.name}' has no {language} variant. Every response needs a variant "
                f"for each of en, zh-Hans and zh-Hant; customers writing in {language} would get nothing.",
                response.path, response.line,
            ))
    for variant in response.variants:
        if variant.language is None:
            findings.append(error(
                f"a variant of '{response.name}' has no language condition, so it could be shown in any "
                "language. Add a `condition:` block with `name: language` and `value: en`, `zh-Hans` or `zh-Hant`.",
                response.path, variant.line,
            ))
        elif variant.language not in LANGUAGES:
            findings.append(error(
                f"a variant of '{response.name}' is for language '{variant.language}', which does not exist. "
                "Use en, zh-Hans or zh-Hant.",
                response.path, variant.line,
            ))
    return findings


def check_texts(response: Response) -> List[Finding]:
    """Every variant has text, written in the language its condition says."""
    findings = []
    for variant in response.variants:
        if not variant.text.strip():
            findings.append(error(f"a variant of '{response.name}' has no text.", response.path, variant.line))
            continue
        for part in (variant.text, *variant.titles):
            shown = visible_text(part)
            if variant.language == "en" and has_chinese(shown):
                findings.append(error(
                    f"the English variant of '{response.name}' contains Chinese characters: \"{part.strip()[:60]}\". "
                    "Check that the text is in the right variant.",
                    response.path, variant.line,
                ))
            elif variant.language in CHINESE and re.search(r"[A-Za-z]", shown) and not has_chinese(shown):
                findings.append(error(
                    f"the {variant.language} variant of '{response.name}' has no Chinese characters: "
                    f"\"{part.strip()[:60]}\". It looks untranslated.",
                    response.path, variant.line,
                ))
    return findings


def check_html(response: Response) -> List[Finding]:
    """Warn about HTML tags: replies are plain text, so customers would see the tags."""
    return [
        warning(
            f"a variant of '{response.name}' contains HTML ({match.group(0)}). Replies are plain text, so "
            "customers would see the tag itself; remove it (use \\n for a new line).",
            response.path, variant.line,
        )
        for variant in response.variants
        for match in [HTML_TAG.search(variant.text)]
        if match
    ]


def check_placeholders(response: Response) -> List[Finding]:
    """The three languages use the same {placeholders}; variants of one language agree too."""
    findings = []
    by_language: Dict[str, Set[str]] = {}
    for variant in response.variants:
        if variant.language in LANGUAGES:
            by_language.setdefault(variant.language, set()).update(placeholders(variant))
    everything = set().union(*by_language.values()) if by_language else set()
    for language, used in sorted(by_language.items()):
        missing = everything - used
        if missing:
            others = [lang for lang, names in sorted(by_language.items()) if missing & names]
            findings.append(error(
                f"the {language} variant of '{response.name}' does not use "
                f"{', '.join('{' + n + '}' for n in sorted(missing))}, but the {' and '.join(others)} variant does. "
                "All languages must show the same information.",
                response.path, first_line(response, language),
            ))
    for variant in response.variants:
        if variant.language in by_language and placeholders(variant) != by_language[variant.language]:
            findings.append(warning(
                f"the {variant.language} variants of '{response.name}' use different placeholders "
                f"({', '.join(sorted(by_language[variant.language] - placeholders(variant)))} missing here). "
                "A customer may get less information from this variant.",
                response.path, variant.line,
            ))
    return findings


def first_line(response: Response, language: str) -> int:
    """Line of the first variant of a language (or the response itself)."""
    return next((v.line for v in response.variants if v.language == language), response.line)


def check_buttons(response: Response) -> List[Finding]:
    """Button payloads are the same in every variant (only the titles are translated)."""
    findings: List[Finding] = []
    reference = next((v for v in response.variants if v.language == "en"), None)
    reference = reference or (response.variants[0] if response.variants else None)
    if reference is None:
        return findings
    for variant in response.variants:
        if variant is reference:
            continue
        if set(variant.payloads) != set(reference.payloads):
            missing = sorted(set(reference.payloads) - set(variant.payloads))
            extra = sorted(set(variant.payloads) - set(reference.payloads))
            details = "; ".join(part for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"not in the {reference.language} variant: {', '.join(extra)}" if extra else "",
            ) if part)
            findings.append(error(
                f"the buttons of the {variant.language} variant of '{response.name}' do not match the "
                f"{reference.language} variant ({details}). Translate the button titles, never the payloads.",
                response.path, variant.line,
            ))
        elif variant.payloads != reference.payloads:
            findings.append(warning(
                f"the buttons of the {variant.language} variant of '{response.name}' are in a different order "
                f"than in the {reference.language} variant.",
                response.path, variant.line,
            ))
    return findings


def check_response(response: Response) -> List[Finding]:
    """All language checks for one response."""
    return (
        check_languages_present(response)
        + check_texts(response)
        + check_html(response)
        + check_placeholders(response)
        + check_buttons(response)
    )


def check_response_files(paths: Sequence[Path]) -> List[Finding]:
    """Check 1 on a set of response files: languages, text, placeholders, buttons."""
    responses, findings = load_responses(paths)
    for response in responses.values():
        findings.extend(check_response(response))
    return findings
