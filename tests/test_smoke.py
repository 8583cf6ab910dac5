"""A newcomer's first command, `bash run_nsmc.sh smoke`, proves the installation works on any machine:
no network, no ../shared, no files of its own, under a minute of pipeline."""

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import REPO

STAGES = ("corpus", "tokenizer", "model", "train", "evaluate", "save/load", "predict")


def run_smoke(
    command: list[str], cwd: Path, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, preexec_fn=preexec_fn, timeout=600)


def test_run_nsmc_sh_smoke_runs_every_stage_and_passes(tmp_path):
    result = run_smoke(["bash", str(REPO / "run_nsmc.sh"), "smoke"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    for stage in STAGES:
        assert f"[ok] {stage}" in result.stdout, stage
    assert "-> positive" in result.stdout and "-> negative" in result.stdout
    assert "smoke test passed" in result.stdout
    assert list(tmp_path.iterdir()) == [], "the smoke test leaves no files behind"


def files_limited_to_64_kb() -> None:
    """A real fault, like a full disk: the generated corpus and tokenizer fit, the model's weights do not."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))


def test_a_failing_stage_is_named_and_the_exit_status_is_not_zero(tmp_path):
    result = run_smoke(
        [sys.executable, str(REPO / "run_nsmc.py"), "--smoke_test"], cwd=tmp_path, preexec_fn=files_limited_to_64_kb
    )
    assert result.returncode == 1
    assert "[ok] corpus" in result.stdout and "[ok] tokenizer" in result.stdout
    assert "[FAILED] model" in result.stdout
    assert "File too large" in result.stdout
    assert "smoke test FAILED" in result.stdout
