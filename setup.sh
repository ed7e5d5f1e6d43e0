#!/usr/bin/env bash
# One-time (idempotent) set-up of a fresh machine: a virtualenv in .venv with the course
# package and its pinned dependencies, plus the system tools the tests use. Run again, it only
# checks: the Python packages are reinstalled when pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")"

say() { echo "setup.sh: $*"; }

# apt-get, waiting (up to 10 minutes) while another apt or dpkg holds its lock: `apt-get update`
# fails at once on a held lock (DPkg::Lock::Timeout covers only dpkg's lock), so ask again.
APT_WAIT_TRIES=20 APT_WAIT_SECONDS=30
apt_get() {
  local output holder tries=0
  while ! output=$(DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=$APT_WAIT_SECONDS "$@" 2>&1); do
    if grep -q "Could not get lock" <<<"$output" && [ $tries -lt $APT_WAIT_TRIES ]; then
      tries=$((tries + 1))
      holder=$(grep -o 'held by process [0-9]* ([^)]*)' <<<"$output" | head -1 || true)
      say "another apt or dpkg is running (its lock is ${holder:-held}); waiting $APT_WAIT_SECONDS s for it ($tries/$APT_WAIT_TRIES) ..."
      sleep $APT_WAIT_SECONDS
    else
      echo "$output" >&2
      return 1
    fi
  done
}

# System tools: bubblewrap (grading sandbox, required by `hwkit grade`) and Chromium (formgrader browser test).
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
missing=""
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need[*]} with apt-get ..."
    apt_get update -qq
    apt_get install -y -qq "${need[@]}"
  elif command -v apt-get >/dev/null 2>&1; then
    missing="${need[*]} missing: run \`sudo apt-get install -y ${need[*]}\`, then \`bash setup.sh\` again"
  else
    missing="${need[*]} missing: install them with your system's package manager (the commands \`bwrap\` and \`chromium\`), then run \`bash setup.sh\` again"
  fi
  [ -z "$missing" ] || say "$missing" >&2
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating the virtualenv .venv with $PYTHON ..."
  if ! "$PYTHON" -m venv .venv; then
    rm -rf .venv
    say "$PYTHON cannot create a virtualenv: install it (Debian/Ubuntu: \`sudo apt-get install -y python3-venv\`; Python 3.11 or later), then run \`bash setup.sh\` again" >&2
    exit 1
  fi
fi
# The stamp says which pyproject.toml, setup.sh and folder the packages were installed for.
stamp=.venv/.hwkit-setup
wanted="$(cat pyproject.toml setup.sh | sha256sum) $PWD"
if [ -x .venv/bin/hwkit ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  say "Python packages up to date (pyproject.toml unchanged since the last set-up)"
else
  # The CPU build of PyTorch first: otherwise pip resolves torch to a multi-GB CUDA build.
  say "installing PyTorch (the CPU build; a large download the first time) ..."
  .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
  say "installing hwkit with its pinned dependencies (nbgrader, otter-grader, jupyter, pytest, ...) ..."
  .venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
  echo "$wanted" > "$stamp"
fi
say "ready (.venv/bin/hwkit, .venv/bin/python -m pytest)${missing:+, except: $missing}"
