"""Check the assistant's content (responses, training examples, keyword lists) in one go.

Usage: .venv/bin/python scripts/validate_content.py [--skip-rasa]
Exit code 0 when there are no errors, 1 when there is at least one ERROR.
The checks themselves live in scripts/content_checks/; see CONTENT.md for what they mean.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from content_checks.report import format_finding, sort_findings, summary  # noqa: E402
from content_checks.runner import run_all  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    """Read the command-line options."""
    parser = argparse.ArgumentParser(description="Check responses, training examples and keyword lists.")
    parser.add_argument("--skip-rasa", action="store_true", help="do not run `rasa data validate` (faster)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run all checks, print each problem and a summary; return the exit code."""
    args = parse_args(argv)
    os.chdir(ROOT)
    findings = sort_findings(run_all(ROOT, skip_rasa=args.skip_rasa))
    for finding in findings:
        print(format_finding(finding))
    print(summary(findings))
    return 1 if any(f.is_error for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
