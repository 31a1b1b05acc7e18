# Shared set-up for scripts/dev and scripts/test; sourced, not run.
#
# Leaves the shell in the repository root with a virtualenv in .venv whose installed requirements match
# the requirement files given to `ensure_requirements`. Only python3 (3.11+) and pip are assumed.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

VENV="$REPO_ROOT/.venv"
VENV_PYTHON="$VENV/bin/python"
# The interpreter that creates the virtualenv; PYTHON=python3.12 ./scripts/dev picks another one.
PYTHON="${PYTHON:-python3}"

# CI has no terminal: pip must never wait for an answer.
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

say() {
  printf '==> %s\n' "$*" >&2
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

ensure_venv() {
  # A virtualenv whose interpreter went away (Python upgraded or removed) cannot be repaired: rebuild it.
  if [[ -e "$VENV" ]] && ! "$VENV_PYTHON" -c 'import sys' >/dev/null 2>&1; then
    say "the virtualenv in .venv is broken; recreating it"
    rm -rf "$VENV"
  fi
  if [[ -e "$VENV" ]]; then
    return
  fi
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON was not found; install Python 3.11 or newer."
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is $("$PYTHON" -V 2>&1); Agentline needs Python 3.11 or newer (set PYTHON=python3.11)."
  say "creating the virtualenv in .venv with $("$PYTHON" -V 2>&1)"
  if ! "$PYTHON" -m venv "$VENV"; then
    rm -rf "$VENV"
    die "'$PYTHON -m venv' failed; on Debian or Ubuntu install the python3-venv package."
  fi
  "$VENV_PYTHON" -m pip install --quiet --upgrade pip
}

# ensure_requirements FILE...: pip install -r each FILE, skipped when neither the files nor the
# interpreter changed since the last successful install (a hash stamp kept inside .venv).
ensure_requirements() {
  local stamp="$VENV/.installed-$(IFS=+; echo "$*").sha256"
  local wanted
  wanted="$("$VENV_PYTHON" - "$@" <<'PY'
import hashlib, sys

digest = hashlib.sha256(sys.version.encode())
# requirements-dev.txt includes requirements.txt with -r, and installs the Python client from its folder
# (editable: its code is live, but its own dependencies are read at install time), so a change to any of
# them must reinstall.
names = {*sys.argv[1:], "requirements.txt"}
if "requirements-dev.txt" in names:
    names.add("clients/python/pyproject.toml")
for name in sorted(names):
    with open(name, "rb") as handle:
        digest.update(name.encode() + b"\0" + handle.read())
print(digest.hexdigest())
PY
)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    say "requirements unchanged ($*); skipping pip install"
    return
  fi
  local args=()
  local file
  for file in "$@"; do
    args+=(-r "$file")
  done
  say "installing $* into .venv (the first time takes a few minutes)"
  "$VENV_PYTHON" -m pip install --quiet "${args[@]}"
  printf '%s\n' "$wanted" >"$stamp"
}

# ensure_chromium: the console's browser tests (tests/console) drive Debian's Chromium; Playwright's own
# browser download needs its CDN, which a build may not reach. Installed with apt-get when missing and
# this user may (root, or sudo without a password). Otherwise the tests skip, except in CI (CI=true),
# where a missing browser fails them.
ensure_chromium() {
  local browser="${CONSOLE_CHROMIUM:-/usr/bin/chromium}"
  [[ -x "$browser" ]] && return
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      say "no Chromium at $browser, and no root or passwordless sudo to install it: the console's browser tests will not run"
      return
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no Chromium at $browser, and no apt-get to install it: the console's browser tests will not run"
    return
  fi
  say "installing Chromium for the console's browser tests (apt-get install chromium)"
  if ! { ${sudo[@]+"${sudo[@]}"} apt-get update -qq \
      && ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >/dev/null; then
    say "installing Chromium failed: the console's browser tests will not run"
  fi
}
