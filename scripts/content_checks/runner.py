"""Run every content check over the repository and collect the findings."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

from .alignment import check_alignment
from .examples import check_examples, load_domain_intents
from .lookups import check_lookups
from .rasa_validate import check_with_rasa
from .references import check_references
from .report import Finding
from .responses import check_response, load_responses
from .yamlio import load_examples, load_yaml_or_finding, nlu_files


def repo_files(root: Path) -> Dict[str, List[Path]]:
    """The content files of the repository, grouped by what they contain."""
    domain = root / "bot" / "domain"
    return {
        "domain": nlu_files(domain),
        "core": [domain / "core.yml"],
        "responses": nlu_files(domain / "responses"),
        "training": [p for p in nlu_files(root / "data" / "nlu") if "lookups" not in p.parts],
        "lookups": nlu_files(root / "data" / "nlu" / "lookups"),
        "holdout": nlu_files(root / "tests" / "nlu_holdout"),
        "stories": nlu_files(root / "data" / "rules") + nlu_files(root / "data" / "stories"),
        "actions": sorted((root / "actions").rglob("*.py")),
    }


def response_checks(files: Dict[str, List[Path]]) -> Tuple[List[Finding], Dict[str, Tuple[Path, int]]]:
    """Checks 1 and 2: responses in three languages, and referenced responses exist."""
    responses, findings = load_responses(files["responses"])
    for response in responses.values():
        findings.extend(check_response(response))
    defined = {name: (r.path, r.line) for name, r in responses.items()}
    findings += check_references(defined, files["stories"], files["actions"], files["domain"])
    return findings, defined


def example_checks(files: Dict[str, List[Path]]) -> List[Finding]:
    """Checks 3 and 4: training examples and their Chinese annotations."""
    training, findings = load_examples(files["training"])
    holdout, problems = load_examples(files["holdout"])
    declared, domain_problems = load_domain_intents(files["domain"])
    findings += problems + domain_problems
    return findings + check_examples(training, holdout, declared) + check_alignment(training)


def run_all(root: Path, skip_rasa: bool = False) -> List[Finding]:
    """Every check (Rasa's own validator too, unless skipped)."""
    files = repo_files(root)
    findings, _ = response_checks(files)
    findings += example_checks(files)
    findings += check_lookups(files["lookups"])
    if not skip_rasa:
        domain_data = [load_yaml_or_finding(path)[0] for path in files["domain"]]
        findings += check_with_rasa(root, domain_data)
    return findings
