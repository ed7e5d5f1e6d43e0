#!/usr/bin/env bash
# One-time (idempotent) set-up of a fresh machine: a virtualenv in .venv with the course
# package and its pinned dependencies, plus the system tools the tests use.
set -euo pipefail
cd "$(dirname "$0")"

# System tools: bubblewrap (grading sandbox) and Chromium (formgrader browser test).
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup.sh: please install ${need[*]} (Debian/Ubuntu: sudo apt-get install ${need[*]})" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# The CPU build of PyTorch first: otherwise pip resolves torch to a multi-GB CUDA build.
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
echo "setup.sh: ready (.venv/bin/hwkit, .venv/bin/python -m pytest)"
