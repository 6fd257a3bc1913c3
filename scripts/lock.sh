#!/usr/bin/env bash
# Refresh the lock files from pyproject.toml:
#   requirements.lock      the runtime dependencies: what scripts/lambda-package.sh bundles for Lambda
#   requirements-dev.lock  the same plus the test tools (extra "dev"): what CI and the README's test command install
# One universal resolution for Python >= 3.11 (this machine's x86_64 and Lambda's python3.11 arm64 alike), with the
# sha256 of every file of each pinned version, so pip installs exactly these bytes (--require-hashes is implied).
#
#   scripts/lock.sh              keep the pinned versions; only follow what changed in pyproject.toml
#   scripts/lock.sh --upgrade    the newest versions within pyproject.toml's bounds (then run the tests)
#
# Needs uv (a PyPI package): python3 -m pip install uv, or .venv/bin/pip install uv (found there too).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-$(command -v uv || echo .venv/bin/uv)}
[ -x "$UV" ] || { echo "scripts/lock.sh needs uv: .venv/bin/pip install uv" >&2; exit 2; }
common=(--universal --python-version 3.11 --generate-hashes --quiet "$@")
"$UV" pip compile pyproject.toml "${common[@]}" -o requirements.lock
"$UV" pip compile pyproject.toml --extra dev "${common[@]}" -o requirements-dev.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) packages) and requirements-dev.lock ($(grep -c '==' requirements-dev.lock))"
