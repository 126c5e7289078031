# Shared set-up for run.sh and test.sh (sourced): venv, pinned install, spaCy pipeline, model.
# Every step is skipped when its inputs have not changed since the last run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONHASHSEED=0

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

find_python310() {
  # pyenv's shim answers `command -v python3.10` even when 3.10 is not selected, so each
  # candidate must actually run and report 3.10.
  local candidate
  for candidate in "${PYTHON310:-}" \
      "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.10*/bin/python3.10 \
      "$(command -v python3.10 || true)" /usr/bin/python3.10 /usr/local/bin/python3.10; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && \
        "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.10 is required (Rasa 3.6 does not run on newer Pythons)." >&2
  echo "Install it (e.g. 'pyenv install 3.10.13') or set PYTHON310=/path/to/python3.10." >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  python310="$(find_python310)"
  say "Creating .venv with ${python310}"
  "$python310" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check pip==24.0
fi

lock_hash="$(sha256sum requirements.lock | cut -d' ' -f1)"
if [ "$(cat .venv/.requirements.sha256 2>/dev/null || true)" != "$lock_hash" ]; then
  say "Installing pinned dependencies (requirements.lock)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
  echo "$lock_hash" > .venv/.requirements.sha256
fi

spacy_inputs="$(cat bot/build_spacy.py bot/entity_patterns.py bot/entity_keywords.yml | sha256sum | cut -d' ' -f1)"
if [ "$(cat bot/spacy_zh/.inputs.sha256 2>/dev/null || true)" != "$spacy_inputs" ]; then
  say "Building the spaCy pipeline (bot/spacy_zh)"
  .venv/bin/python -m bot.build_spacy bot/spacy_zh
  echo "$spacy_inputs" > bot/spacy_zh/.inputs.sha256
fi

say "Training the assistant if its data or config changed (models/)"
mkdir -p logs
started=$(date +%s)
.venv/bin/rasa train --domain bot/domain --data data --config config.yml --out models \
  --num-threads 2 > logs/train.log 2>&1 || { tail -40 logs/train.log >&2; exit 1; }
grep -E "Your Rasa model is trained|Nothing changed|successfully" logs/train.log | tail -1 || true
echo "    ($(( $(date +%s) - started )) s; full log in logs/train.log)"
mkdir -p logs
ls models/*.tar.gz >/dev/null 2>&1 || { echo "Training failed: no model in models/" >&2; exit 1; }
