#!/usr/bin/env bash
# Install what the browser tests (tests/e2e) need, idempotently:
#   - the distribution's Chromium at /usr/bin/chromium (+ a CJK font), via apt;
#   - the Python package `playwright` into .venv, pinned.
# It never runs `playwright install`: the tests drive the system Chromium through
# executable_path, so no browser is downloaded.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEFAULT_PLAYWRIGHT="playwright==1.47.0"

say() { printf '==> %s\n' "$*"; }

# --- Chromium and a font that has Chinese glyphs ---
if [ -x /usr/bin/chromium ]; then
  say "Chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "ERROR: /usr/bin/chromium is missing and this script is not running as root." >&2
    echo "       Install it as root:  apt-get update && apt-get install -y chromium fonts-wqy-microhei" >&2
    exit 1
  fi
  say "Installing Chromium and fonts-wqy-microhei with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium fonts-wqy-microhei
fi

# The CJK font on its own, for a machine that had Chromium but not the font.
if ! fc-list 2>/dev/null | grep -qiE 'wqy|noto sans cjk|noto serif cjk'; then
  if [ "$(id -u)" -eq 0 ]; then
    say "Installing fonts-wqy-microhei (no CJK font found)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq fonts-wqy-microhei || { apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei; }
  else
    echo "WARNING: no CJK font found; Chinese text will render as boxes. As root: apt-get install -y fonts-wqy-microhei" >&2
  fi
fi

# --- the playwright Python package (driver only; never `playwright install`) ---
if [ ! -x .venv/bin/python ]; then
  echo "ERROR: .venv is missing; run scripts/setup.sh (or scripts/test.sh) first." >&2
  exit 1
fi
if .venv/bin/python -c "import playwright" 2>/dev/null; then
  say "playwright already installed: $(.venv/bin/python -m pip show playwright 2>/dev/null | awk '/^Version:/{print $2}')"
else
  pinned="$(grep -iE '^playwright==' requirements.lock 2>/dev/null | head -n1 | tr -d '[:space:]' || true)"
  from_lock=1
  if [ -z "$pinned" ]; then
    pinned="$DEFAULT_PLAYWRIGHT"
    from_lock=0
  fi
  say "Installing $pinned$([ "$from_lock" = 1 ] && echo ' (pinned in requirements.lock)')"
  # -c requirements.lock: never move a locked package (playwright pins greenlet and pyee exactly).
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check "$pinned" -c requirements.lock; then
    echo "ERROR: $pinned cannot be installed next to requirements.lock (pip's resolver refused; see above)." >&2
    echo "       Playwright pins greenlet/pyee exactly: playwright==1.47.0 wants greenlet==3.0.3, while" >&2
    echo "       requirements.lock has greenlet==3.5.6. A release that fits the lock is playwright==1.52.0" >&2
    echo "       (with pyee==13.0.1): add both lines to requirements.lock and run this script again." >&2
    exit 1
  fi
  if [ "$from_lock" = 0 ]; then
    echo "NOTE: add '$pinned' (and its pyee pin: $(.venv/bin/python -m pip show pyee 2>/dev/null | awk '/^Version:/{print "pyee=="$2}')) to requirements.lock." >&2
  fi
fi
say "Browser test prerequisites are in place."
