#!/usr/bin/env bash
# The TPU launch path, run for real on an emulated XLA device: `bash tests/xla/run_xla_check.sh [pytest args]`.
#
# torch_xla 2.9.0 (the newest on PyPI) works only with exactly torch 2.9.0, which the main .venv
# (torch 2.13) cannot hold, so it gets its own venv, .venv-xla (gitignored). The first run builds
# it: about 8 GB, as PyPI's torch 2.9.0 brings the CUDA libraries, which it will not import
# without; later runs only check that it is up to date, as run_tests.sh does for .venv.
# tests/xla/test_xla_run.py then runs `bash run_nsmc.sh tpu` (accelerate_configs/tpu_v2-8.yaml)
# with PJRT_DEVICE=CPU and checks what it left.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
venv=.venv-xla
started=$SECONDS
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -qq --disable-pip-version-check "torch==2.9.0" "torch_xla==2.9.0" -e ".[test]"
echo "$venv ready in $((SECONDS - started)) s"
exec "$venv/bin/python" -m pytest tests/xla "$@"
