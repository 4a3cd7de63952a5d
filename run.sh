#!/usr/bin/env bash
# The project's two commands, each enough on a fresh machine with Python 3.11, 3.12 or 3.13:
#   ./run.sh app    start the dashboard on the sample data (http://localhost:8501)
#   ./run.sh test   run every test (installs Debian's chromium for the browser tests when run as root)
# Both make the virtual environment .venv and install requirements.txt into it when needed.
set -euo pipefail
cd "$(dirname "$0")"

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.11, 3.12 or 3.13 is needed (set PYTHON=/path/to/python3.x)." >&2
  return 1
}

ensure_venv() {
  local stamp=.venv/.requirements.sha256 wanted
  wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ]; then
    "$(find_python)" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "Installing requirements into .venv ..."
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements.txt
    echo "$wanted" > "$stamp"
  fi
}

ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed and this is not root: browser tests will be skipped." >&2
  fi
}

case "${1:-}" in
  app)
    shift
    ensure_venv
    .venv/bin/python -m views.preflight "$@"  # refuses a misconfigured server (sign-in, roles, address) with why
    # glibc keeps the memory a filter change frees for the next one (analytics/memory.py; OUTCOMES_KEEP_MEMORY=0: not)
    tunables=$(.venv/bin/python -m analytics.memory)
    if [ -n "$tunables" ]; then export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}$tunables"; fi
    exec .venv/bin/python -m streamlit run dashboard.py "$@"
    ;;
  test)
    shift
    ensure_venv
    ensure_chromium
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: ./run.sh app | ./run.sh test [pytest options]" >&2
    exit 64
    ;;
esac
