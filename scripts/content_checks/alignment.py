"""Check 4: annotated entities must cover whole jieba words, or Rasa silently drops them."""

from __future__ import annotations

import logging
from typing import List, Sequence, Set

import jieba

from .report import Finding, error
from .yamlio import Example, Span

jieba.setLogLevel(logging.WARNING)


def word_boundaries(words: Sequence[str]) -> Set[int]:
    """Character positions where jieba's words start or end."""
    bounds, offset = {0}, 0
    for word in words:
        offset += len(word)
        bounds.add(offset)
    return bounds


def is_aligned(span: Span, bounds: Set[int]) -> bool:
    """True when an annotation starts and ends on word boundaries."""
    return span.start in bounds and span.end in bounds


def check_alignment(examples: Sequence[Example]) -> List[Finding]:
    """Error for every annotation that does not start and end at a jieba word boundary."""
    findings = []
    for example in examples:
        if not example.spans:
            continue
        words = jieba.lcut(example.plain)
        bounds = word_boundaries(words)
        for span in example.spans:
            if not is_aligned(span, bounds):
                shown = " | ".join(w for w in words if w.strip())
                findings.append(error(
                    f"the marked word \"{span.text}\" in \"{example.plain.strip()}\" does not match how the text "
                    f"is split into words: {shown}. Rasa ignores this annotation. Mark whole words "
                    "(widen or narrow the [brackets] to match the words above).",
                    example.path, example.line,
                ))
    return findings
