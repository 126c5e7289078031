"""Build the spaCy pipeline Rasa loads: blank Chinese with jieba words plus an EntityRuler.

Run: python -m bot.build_spacy [output_dir]. The result is rebuilt by the run and
test commands (it takes about a second) and is not committed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

import spacy
import yaml
from spacy.pipeline import EntityRuler

from bot.entity_patterns import all_token_patterns, keyword_patterns

HERE = Path(__file__).parent
DEFAULT_OUTPUT = HERE / "spacy_zh"
KEYWORDS_FILE = HERE / "entity_keywords.yml"


def load_keywords(path: Path = KEYWORDS_FILE) -> Dict[str, List[str]]:
    """Read the product and date phrase lists."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {label: [str(item) for item in items] for label, items in data.items()}


def build(output: Path = DEFAULT_OUTPUT) -> Path:
    """Create and save the pipeline; return where it was saved."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    assert isinstance(ruler, EntityRuler)
    ruler.add_patterns(all_token_patterns() + keyword_patterns(load_keywords()))
    nlp.meta["name"] = "complaint_zh_en"
    nlp.meta["description"] = "jieba words and entity patterns for the complaint assistant"
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    return output


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    print(f"spaCy pipeline written to {build(target)}")
