"""Evaluate the trained NLU on the held-out sets: intent macro-F1 and entity F1 per language.

Usage: python scripts/nlu_report.py [--model models/x.tar.gz] [--holdout tests/nlu_holdout]
       [--out reports/nlu_report.json]
Writes a JSON report and prints a table. The held-out files are never used for training.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Set, Tuple

from sklearn.metrics import f1_score

from actions.vocabulary import CATEGORIES, OUTCOMES

ROOT = Path(__file__).resolve().parents[1]
# Category and outcome are scored as the assistant uses them: the first value that is one
# of the canonical ones (actions/vocabulary.py); raw spans other extractors report are ignored.
VALUE_COMPARED = {"category": CATEGORIES, "desired_outcome": OUTCOMES}
IGNORED_ENTITIES = {"language"}
SLOT_FILLING_INTENTS = {"complain", "inform"}
EntityKey = Tuple[str, str]


def latest_model(folder: Path) -> Path:
    """The newest model archive."""
    models = sorted(folder.glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    if not models:
        sys.exit(f"No model in {folder}: train one first.")
    return models[-1]


def entity_keys(entities: Iterable[Dict[str, Any]], text: str, predicted: bool) -> Set[EntityKey]:
    """Comparable entities: category/outcome by canonical value, the rest by the exact text span."""
    keys = set()
    valued: Set[str] = set()
    for entity in entities:
        label = entity["entity"]
        if label in IGNORED_ENTITIES:
            continue
        if label in VALUE_COMPARED:
            value = str(entity.get("value"))
            if predicted and (value not in VALUE_COMPARED[label] or label in valued):
                continue
            valued.add(label)
            keys.add((label, value))
        else:
            keys.add((label, text[entity["start"] : entity["end"]].strip()))
    return keys


def f1(counts: Counter) -> Dict[str, float]:
    """Precision, recall and F1 from true positive / false positive / false negative counts."""
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(score, 4)}


async def evaluate_language(agent: Any, holdout: Path) -> Dict[str, Any]:
    """Parse every held-out example of one file and score it."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples = [e for e in load_data(str(holdout)).intent_examples]
    gold_intents: List[str] = []
    predicted_intents: List[str] = []
    entity_counts: Counter = Counter()
    per_entity: Dict[str, Counter] = {}
    mistakes: List[Dict[str, str]] = []
    for example in examples:
        text = example.get("text")
        parsed = await agent.parse_message(text)
        gold, predicted = example.get("intent"), parsed["intent"]["name"]
        gold_intents.append(gold)
        predicted_intents.append(predicted)
        if gold != predicted:
            mistakes.append({"text": text, "expected": gold, "predicted": predicted})
        expected = entity_keys(example.get("entities") or [], text, predicted=False)
        found = entity_keys(parsed.get("entities") or [], text, predicted=True)
        if gold not in SLOT_FILLING_INTENTS:
            # Outside complaints the assistant does not read category or outcome.
            found = {key for key in found if key[0] not in VALUE_COMPARED}
        for key in expected | found:
            outcome = "tp" if key in expected and key in found else ("fn" if key in expected else "fp")
            entity_counts[outcome] += 1
            per_entity.setdefault(key[0], Counter())[outcome] += 1
    return {
        "examples": len(examples),
        "intent_macro_f1": round(
            float(f1_score(gold_intents, predicted_intents, labels=sorted(set(gold_intents)), average="macro")), 4
        ),
        "intent_accuracy": round(
            sum(g == p for g, p in zip(gold_intents, predicted_intents, strict=True)) / len(examples), 4
        ),
        "entity": f1(entity_counts),
        "entity_by_type": {label: f1(counts) for label, counts in sorted(per_entity.items())},
        "misclassified": mistakes,
    }


async def run(model: Path, holdout_dir: Path) -> Dict[str, Any]:
    """Evaluate every language file in the held-out folder."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    report: Dict[str, Any] = {"model": model.name, "languages": {}}
    for holdout in sorted(holdout_dir.glob("*.yml")):
        report["languages"][holdout.stem] = await evaluate_language(agent, holdout)
    return report


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--holdout", type=Path, default=ROOT / "tests" / "nlu_holdout")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "nlu_report.json")
    args = parser.parse_args()
    model = args.model or latest_model(ROOT / "models")
    report = asyncio.run(run(model, args.holdout))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"{'language':10} {'examples':>8} {'intent macro-F1':>16} {'entity F1':>10}")
    for language, scores in report["languages"].items():
        print(f"{language:10} {scores['examples']:>8} {scores['intent_macro_f1']:>16.3f} "
              f"{scores['entity']['f1']:>10.3f}")
    print(f"Report: {args.out}")


if __name__ == "__main__":
    main()
