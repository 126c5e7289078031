"""NLU quality on the held-out sets (never trained on), per language, with the trained model."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import pytest

from scripts.nlu_report import ROOT, latest_model, run

# The target is 0.90 intent macro-F1 per language (reported by scripts/nlu_report.py);
# this guard sits a little below it so CPU-level numeric noise cannot fail CI, while a
# real regression (a broken intent, a language that stopped working) does.
INTENT_MACRO_F1_FLOOR = 0.88
ENTITY_F1_FLOOR = 0.80


@pytest.fixture(scope="module")
def report() -> Dict[str, Any]:
    """Evaluate the newest model once for all assertions (in its own event loop)."""
    return asyncio.run(run(latest_model(ROOT / "models"), ROOT / "tests" / "nlu_holdout"))


@pytest.mark.parametrize("language", ["en", "zh-Hans", "zh-Hant"])
def test_each_language_is_understood(report: Dict[str, Any], language: str) -> None:
    """Intents and entities on held-out messages written apart from the training data."""
    scores = report["languages"][language]
    assert scores["examples"] >= 150
    assert scores["intent_macro_f1"] >= INTENT_MACRO_F1_FLOOR, scores["misclassified"]
    assert scores["entity"]["f1"] >= ENTITY_F1_FLOOR, scores["entity_by_type"]
