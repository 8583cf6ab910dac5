#!/usr/bin/env bash
# Install nsmc-trainer with CPU torch into .venv and run the test suite: `bash run_tests.sh [pytest args]`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
[ -x .venv/bin/python ] || python3 -m venv .venv
# Activated, so that tests which run `accelerate` or `run_nsmc.sh` find the venv's commands.
. .venv/bin/activate
python -m pip install --quiet --disable-pip-version-check -e ".[cpu,test]"
exec python -m pytest "$@"
