"""Train alternative NLU pipelines, score them on the held-out sets, print a markdown table.

Usage (from the repository root):
    PYTHONPATH=. RASA_TELEMETRY_ENABLED=false .venv/bin/python bench/compare_pipelines.py \
        [--pipelines current jieba_regex spacy_no_ruler char_only] [--out /tmp/pipelines] [--reuse]

Each config is bench/pipelines/<name>.yml. Models, reports and the regex copy of the
training data go under --out; data/nlu and the held-out sets are never modified.
--reuse skips training where a model and its recorded training time already exist.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "bench" / "pipelines"
NLU_DATA = ROOT / "data" / "nlu"
HOLDOUT = ROOT / "tests" / "nlu_holdout"
KEYWORDS = ROOT / "bot" / "entity_keywords.yml"
REPORT_SCRIPT = ROOT / "scripts" / "nlu_report.py"
SPACY_MODEL = ROOT / "bot" / "spacy_zh"
DEFAULT_PIPELINES = ["current", "jieba_regex", "spacy_no_ruler", "char_only"]
REGEX_DATA_PIPELINES = {"jieba_regex"}
LANGUAGES = ["en", "zh-Hans", "zh-Hant"]
Key = Tuple[str, str]
ENTITY_TYPES = ["order_id", "case_id", "phone", "email", "amount", "date", "product"]

# Regexes that mirror bot/entity_patterns.py (the EntityRuler's token patterns) on raw text.
_B = r"(?<![A-Za-z0-9])"  # no letter or digit just before
_A = r"(?![A-Za-z0-9])"  # no letter or digit just after
_NUM = r"\d+(?:[.,]\d+)*"
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|sept|jan|feb|mar|apr|jun|jul|aug|sep|oct|nov|dec"
)
_CURRENCY_WORDS = (
    "块钱|塊錢|新台币|新台幣|人民币|人民幣|港币|港幣|港元|美元|美金|台币|台幣|元|块|塊|蚊|圓"
    "|dollars|dollar|yuan|rmb|hkd|usd|ntd|twd|bucks"
)
ENTITY_REGEXES: Dict[str, List[str]] = {
    "case_id": [rf"{_B}cmp(?:-\d{{8}}-\d{{4,6}}|\d{{12,14}}){_A}"],
    "email": [r"[A-Za-z0-9_.+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"],
    "order_id": [rf"{_B}(?!cmp)[A-Za-z]{{2,4}}-?\d{{6,12}}{_A}"],
    "phone": [
        rf"(?:\+\s?)?(?:(?:0086|86)\s?)?{_B}1[3-9]\d[\s-]?\d{{4}}[\s-]?\d{{4}}{_A}",
        rf"(?:\+\s?852\s?)?{_B}[4-9]\d{{3}}[\s-]?\d{{4}}{_A}",
        rf"{_B}09\d{{2}}[\s-]?\d{{3}}[\s-]?\d{{3}}{_A}",
        rf"\+\s?\d{{1,3}}(?:\s\d{{2,5}}){{2,}}{_A}",
    ],
    "amount": [
        rf"(?:{_B}(?:hkd|usd|twd|cny|rmb|hk|nt|us|s)\s?)?[$¥￥€£]\s?{_NUM}",
        rf"{_B}(?:hkd|usd|twd|cny|rmb|hk|nt|us)\s+{_NUM}",
        rf"{_B}{_NUM}\s?(?:{_CURRENCY_WORDS})(?![A-Za-z])",
    ],
    "date": [
        rf"{_B}\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}{_A}",
        rf"{_B}(?:\d{{4}}\s?年\s?)?\d{{1,2}}\s?月\s?\d{{1,2}}\s?[日号號]",
        rf"{_B}\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?{_A}",
        rf"{_B}\d{{1,2}}\s?[月号號日]",
        rf"{_B}\d{{1,2}}(?:st|nd|rd|th)?\s(?:of\s)?(?:{_MONTHS}){_A}",
        rf"{_B}(?:{_MONTHS})\s\d{{1,2}}(?:st|nd|rd|th)?{_A}",
    ],
}


@dataclass
class Result:
    """One pipeline's figures."""

    name: str
    train_seconds: float
    model_mb: float
    intent_f1: Dict[str, float]
    entity_f1: Dict[str, float]


def phrase_regex(phrases: List[str]) -> str:
    """One alternation over the phrases, longest first; ASCII phrases need word edges."""
    parts = []
    for phrase in sorted(set(phrases), key=len, reverse=True):
        escaped = re.escape(phrase).replace(r"\ ", r"\s+")
        parts.append(f"{_B}{escaped}{_A}" if phrase.isascii() else escaped)
    return "(?:" + "|".join(parts) + ")"


def entity_regexes() -> Dict[str, str]:
    """One combined regex per entity type, keyword phrases (products, date words) included."""
    keywords: Dict[str, List[str]] = yaml.safe_load(KEYWORDS.read_text(encoding="utf-8"))
    combined = {label: list(patterns) for label, patterns in ENTITY_REGEXES.items()}
    for label, phrases in keywords.items():
        combined.setdefault(label, []).insert(0, phrase_regex([str(p).lower() for p in phrases]))
    return {label: "|".join(f"(?:{p})" for p in patterns) for label, patterns in combined.items()}


def overlaps(span: Tuple[int, int], taken: List[Tuple[int, int]]) -> bool:
    """Whether the span overlaps any taken span."""
    return any(span[0] < end and start < span[1] for start, end in taken)


def annotate(message: Any, regexes: Dict[str, str]) -> int:
    """Add regex matches that overlap no existing entity to a training example; return how many."""
    text = message.get("text") or ""
    entities = list(message.get("entities") or [])
    taken = [(e["start"], e["end"]) for e in entities]
    added = 0
    for label, pattern in regexes.items():
        for match in re.finditer(pattern, text, flags=re.IGNORECASE):
            start, end = match.span()
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start and not overlaps((start, end), taken):
                entities.append({"start": start, "end": end, "value": text[start:end], "entity": label})
                taken.append((start, end))
                added += 1
    if added:
        message.set("entities", sorted(entities, key=lambda e: e["start"]))
    return added


def write_regex_data(out_dir: Path) -> Path:
    """Copy data/nlu to one YAML file with the regexes added and their matches annotated."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(NLU_DATA))
    regexes = entity_regexes()
    added = sum(annotate(message, regexes) for message in data.training_examples)
    data.regex_features.extend({"name": label, "pattern": pattern} for label, pattern in regexes.items())
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "nlu.yml"
    target.write_text(data.nlu_as_yaml(), encoding="utf-8")
    print(f"Regex training data: {target} ({added} regex entities annotated)", flush=True)
    return target


def data_fingerprint() -> str:
    """A short hash of the training data, held-out sets, entity keywords and the scoring script."""
    digest = hashlib.sha256()
    for path in sorted([*NLU_DATA.rglob("*.yml"), *HOLDOUT.glob("*.yml"), KEYWORDS, REPORT_SCRIPT]):
        digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def rasa_env() -> Dict[str, str]:
    """Environment for the rasa and report subprocesses."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}


def ensure_spacy_model() -> None:
    """Build bot/spacy_zh when it is missing."""
    if not (SPACY_MODEL / "meta.json").exists():
        subprocess.run([sys.executable, "-m", "bot.build_spacy", str(SPACY_MODEL)], cwd=ROOT, env=rasa_env(),
                       check=True)


def train(name: str, nlu: Path, out_dir: Path) -> float:
    """Train one NLU model into out_dir/<name>.tar.gz; return wall-clock seconds."""
    rasa = Path(sys.executable).with_name("rasa")
    command = [str(rasa), "train", "nlu", "--config", str(CONFIGS / f"{name}.yml"), "--nlu", str(nlu),
               "--out", str(out_dir), "--fixed-model-name", name]
    started = time.monotonic()
    with (out_dir / "train.log").open("w", encoding="utf-8") as log:
        # Rasa's training cache would restore components shared with an earlier config and
        # make the timings meaningless, so every pipeline trains from scratch.
        env = {**rasa_env(), "RASA_MAX_CACHE_SIZE": "0"}
        subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    return time.monotonic() - started


def evaluate(model: Path, report: Path) -> Dict[str, Any]:
    """Score a model on the held-out sets with scripts/nlu_report.py."""
    command = [sys.executable, str(REPORT_SCRIPT), "--model", str(model),
               "--holdout", str(HOLDOUT), "--out", str(report)]
    subprocess.run(command, cwd=ROOT, env=rasa_env(), check=True, stdout=subprocess.DEVNULL)
    result: Dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return result


def recorded_seconds(timing: Path, fingerprint: str) -> Optional[float]:
    """The training time saved by an earlier run on the same data, if any."""
    if not timing.exists():
        return None
    saved = json.loads(timing.read_text(encoding="utf-8"))
    return float(saved["train_seconds"]) if saved.get("data") == fingerprint else None


def run_pipeline(name: str, out_root: Path, reuse: bool) -> Result:
    """Train (unless reused) and evaluate one pipeline."""
    out_dir = out_root / name
    out_dir.mkdir(parents=True, exist_ok=True)
    model, timing = out_dir / f"{name}.tar.gz", out_dir / "train.json"
    fingerprint = data_fingerprint()
    seconds = recorded_seconds(timing, fingerprint) if reuse and model.exists() else None
    if seconds is None:
        nlu = write_regex_data(out_root / "data_regex") if name in REGEX_DATA_PIPELINES else NLU_DATA
        print(f"Training {name} ...", flush=True)
        seconds = train(name, nlu, out_dir)
        timing.write_text(json.dumps({"train_seconds": round(seconds, 1), "data": fingerprint}), encoding="utf-8")
    print(f"Evaluating {name} ...", flush=True)
    report = evaluate(model, out_dir / "report.json")
    languages = report["languages"]
    return Result(
        name=name,
        train_seconds=seconds,
        model_mb=model.stat().st_size / 1_000_000,
        intent_f1={lang: languages[lang]["intent_macro_f1"] for lang in LANGUAGES},
        entity_f1={lang: languages[lang]["entity"]["f1"] for lang in LANGUAGES},
    )


def gold_keys(entities: List[Dict[str, Any]], text: str) -> Set[Key]:
    """The held-out rule-type entities of one example as (label, text) keys."""
    return {(e["entity"], text[e["start"] : e["end"]].strip()) for e in entities if e["entity"] in ENTITY_TYPES}


def score(gold: List[Set[Key]], found: List[Set[Key]]) -> float:
    """Entity F1 over paired sets of (label, text) keys, as scripts/nlu_report.py counts them."""
    tp = sum(len(g & f) for g, f in zip(gold, found, strict=True))
    fp = sum(len(f - g) for g, f in zip(gold, found, strict=True))
    fn = sum(len(g - f) for g, f in zip(gold, found, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def extractor_only_table() -> str:
    """Rule extractors alone (no DIET) on the rule entity types: EntityRuler versus the regexes."""
    import spacy
    from rasa.shared.nlu.training_data.loading import load_data

    nlp = spacy.load(SPACY_MODEL)
    regexes = entity_regexes()
    lines = ["| rule extractor alone | " + " | ".join(LANGUAGES) + " |", "|---" * 4 + "|"]
    rows: Dict[str, List[str]] = {"spaCy EntityRuler": [], "regexes (jieba_regex)": []}
    for language in LANGUAGES:
        examples = load_data(str(HOLDOUT / f"{language}.yml")).intent_examples
        texts = [str(example.get("text")) for example in examples]
        gold = [gold_keys(example.get("entities") or [], text) for example, text in zip(examples, texts, strict=True)]
        ruler = [{(ent.label_, ent.text.strip()) for ent in nlp(t).ents} for t in texts]
        plain = [
            {(label, m.group().strip()) for label, p in regexes.items() for m in re.finditer(p, t, re.IGNORECASE)}
            for t in texts
        ]
        rows["spaCy EntityRuler"].append(f"{score(gold, ruler):.3f}")
        rows["regexes (jieba_regex)"].append(f"{score(gold, plain):.3f}")
    lines += [f"| {name} | " + " | ".join(values) + " |" for name, values in rows.items()]
    return "\n".join(lines)


def markdown_table(results: List[Result]) -> str:
    """The comparison as a markdown table."""
    header = (
        "| pipeline | train s | model MB | intent F1 en | intent F1 zh-Hans | intent F1 zh-Hant "
        "| entity F1 en | entity F1 zh-Hans | entity F1 zh-Hant |"
    )
    lines = [header, "|---" * 9 + "|"]
    for r in results:
        scores = [f"{r.intent_f1[lang]:.3f}" for lang in LANGUAGES] + [f"{r.entity_f1[lang]:.3f}" for lang in LANGUAGES]
        lines.append(f"| {r.name} | {r.train_seconds:.0f} | {r.model_mb:.1f} | " + " | ".join(scores) + " |")
    return "\n".join(lines)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", nargs="+", default=DEFAULT_PIPELINES)
    parser.add_argument("--out", type=Path, default=Path("/tmp/pipelines"))
    parser.add_argument("--reuse", action="store_true", help="reuse trained models and their recorded times")
    args = parser.parse_args()
    ensure_spacy_model()
    before = data_fingerprint()
    results = [run_pipeline(name, args.out, args.reuse) for name in args.pipelines]
    after = data_fingerprint()
    if after != before:
        print(f"WARNING: data, held-out sets or scoring script changed during the run ({before} -> {after}); "
              "the figures mix two versions, run again.", file=sys.stderr)
    table = markdown_table(results) + "\n\nEntity F1 on " + ", ".join(ENTITY_TYPES) + ":\n\n" + extractor_only_table()
    (args.out / "table.md").write_text(table + "\n", encoding="utf-8")
    print(f"Data fingerprint: {after}\n")
    print(table)


if __name__ == "__main__":
    main()
