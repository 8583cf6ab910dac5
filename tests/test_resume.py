"""A run stopped half-way picks up where it was, and ends exactly where an uninterrupted run ends.

The Colab story: a tab closes or the VM dies mid-epoch (SIGKILL), the re-run then crashes while
writing its next checkpoint (a full disk), a later run is stopped with SIGTERM; each time the
same command, run again, continues. Runs use nsmc-mini's first 256 reviews (64 tokens at most)
and the tiny model for 2 epochs of 8 steps, with an extra checkpoint every 3 steps
(--resume_checkpoint_steps) so that there are checkpoints in the middle of an epoch.
"""

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from transformers.trainer_utils import get_last_checkpoint

from conftest import NSMC_MINI, REPO, TINY_MODEL, require
from nsmc_trainer.interrupts import launched_by_accelerate

STEPS_PER_EPOCH = 256 // 32
# The tiny model's weights are 16 MB: with files limited to 1 MB, no checkpoint can be written.
FILE_SIZE_LIMIT = 1 << 20
TIMEOUT_S = 900


def training_command(output_dir: Path, features_cache: Path, *extra: str, launcher: bool = False) -> list[str]:
    launch = [sys.executable]
    if launcher:
        launch += ["-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1"]
    return [
        *launch, str(REPO / "run_nsmc.py"),
        "--model_name_or_path", str(TINY_MODEL),
        "--data_dir", str(NSMC_MINI),
        "--output_dir", str(output_dir),
        "--features_cache_dir", str(features_cache),
        "--max_train_samples", "256",
        "--max_eval_samples", "64",
        "--max_seq_length", "64",
        "--num_train_epochs", "2",
        "--learning_rate", "3e-3",
        "--resume_checkpoint_steps", "3",
        "--logging_steps", "1",
        "--report_to", "none",
        "--disable_tqdm", "true",
        *extra,
    ]  # fmt: skip


def environment() -> dict[str, str]:
    """Offline, and one thread: on a busy machine OpenMP threads waiting for each other cost seconds a step."""
    return dict(
        os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1"
    )


def limit_file_size() -> None:
    """A real fault for the child: writing past FILE_SIZE_LIMIT fails with EFBIG (Python ignores SIGXFSZ)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def start(command: list[str], log: Path, preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen:
    with log.open("w") as output:
        return subprocess.Popen(
            command, env=environment(), stdout=output, stderr=subprocess.STDOUT, cwd=log.parent, preexec_fn=preexec_fn
        )


def run(command: list[str], log: Path, preexec_fn: Callable[[], None] | None = None) -> int:
    return start(command, log, preexec_fn).wait(timeout=TIMEOUT_S)


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert process.poll() is None, f"the run ended (status {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def checkpoints(output_dir: Path) -> list[str]:
    return sorted(path.name for path in output_dir.glob("checkpoint-*"))


def step_of(checkpoint: str | Path) -> int:
    return int(str(checkpoint).rsplit("-", 1)[1])


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def history(output_dir: Path) -> list[tuple]:
    """Every logged training loss and learning rate, and every evaluation, in order."""
    return [
        (entry["step"], *(entry.get(key) for key in ("loss", "learning_rate", "eval_loss", "eval_accuracy")))
        for entry in read_json(output_dir / "trainer_state.json")["log_history"]
        if "loss" in entry or "eval_loss" in entry
    ]


FINAL_METRICS = ("eval_loss", "eval_accuracy", "eval_f1")


def final_metrics(output_dir: Path) -> dict[str, float]:
    results = read_json(output_dir / "eval_results.json")
    return {key: results[key] for key in FINAL_METRICS}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    require(NSMC_MINI)
    require(TINY_MODEL)
    return tmp_path_factory.mktemp("resume")


@pytest.fixture(scope="module")
def uninterrupted(root) -> Path:
    output_dir = root / "uninterrupted"
    log = root / "uninterrupted.log"
    assert run(training_command(output_dir, root / "features"), log) == 0, log.read_text()[-3000:]
    return output_dir


@dataclass
class KilledRun:
    output_dir: Path
    after_kill: list[str]
    crash_status: int
    crash_log: str
    after_crash: list[str]
    partial_after_crash: list[str]
    last_after_crash: str | None
    resume_status: int
    resume_log: str


@pytest.fixture(scope="module")
def killed(root, uninterrupted) -> KilledRun:
    """Killed with SIGKILL once a checkpoint of the second epoch exists; re-run with files limited to
    1 MB, so it dies writing its next checkpoint; re-run once more."""
    output_dir = root / "killed"
    command = training_command(output_dir, root / "features")

    def in_second_epoch() -> bool:
        return any(step_of(name) > STEPS_PER_EPOCH for name in checkpoints(output_dir))

    process = start(command, root / "killed-1.log")
    wait_until(in_second_epoch, process, "a checkpoint in the second epoch")
    process.kill()
    process.wait()
    after_kill = checkpoints(output_dir)

    crash_status = run(command, root / "killed-2.log", preexec_fn=limit_file_size)
    after_crash = checkpoints(output_dir)
    partial_after_crash = sorted(path.name for path in output_dir.glob(".*.partial"))
    last_after_crash = get_last_checkpoint(str(output_dir))

    resume_status = run(command, root / "killed-3.log")
    return KilledRun(
        output_dir,
        after_kill,
        crash_status,
        (root / "killed-2.log").read_text(),
        after_crash,
        partial_after_crash,
        last_after_crash,
        resume_status,
        (root / "killed-3.log").read_text(),
    )


def test_killed_mid_epoch_the_same_command_ends_with_the_same_metrics_as_an_uninterrupted_run(killed, uninterrupted):
    assert killed.resume_status == 0, killed.resume_log[-3000:]
    assert re.search(r"Resuming from \S*checkpoint-\d+", killed.resume_log)
    assert final_metrics(killed.output_dir) == final_metrics(uninterrupted)
    # Same data order, RNG and learning rate at every step, including those of the interrupted epoch.
    assert history(killed.output_dir) == history(uninterrupted)


def test_while_training_the_latest_and_the_best_checkpoints_are_on_disk(killed):
    latest = max(killed.after_kill, key=step_of)
    assert step_of(latest) % STEPS_PER_EPOCH != 0, "the run should have been killed in the middle of an epoch"
    # Only epoch 1 was evaluated, so its checkpoint is the best; save_total_limit=1 still keeps the latest too.
    assert killed.after_kill == sorted([f"checkpoint-{STEPS_PER_EPOCH}", latest])


def test_a_crash_while_saving_a_checkpoint_leaves_the_previous_one_to_resume_from(killed):
    assert killed.crash_status != 0
    assert "File too large" in killed.crash_log
    assert killed.after_crash == killed.after_kill
    assert Path(killed.last_after_crash).name == max(killed.after_kill, key=step_of)
    # The half-written checkpoint lies under a hidden name that no resume picks, and the next run removes it.
    assert len(killed.partial_after_crash) == 1 and killed.partial_after_crash[0].startswith(".checkpoint-")
    assert list(killed.output_dir.glob(".*.partial")) == []


def test_after_training_only_the_final_model_and_the_best_checkpoint_remain(killed):
    state = read_json(killed.output_dir / "trainer_state.json")
    assert checkpoints(killed.output_dir) == [Path(state["best_model_checkpoint"]).name]
    assert (killed.output_dir / "model.safetensors").is_file()


def test_rerunning_a_finished_run_is_refused_and_leaves_its_model_alone(root, uninterrupted):
    weights = uninterrupted / "model.safetensors"
    before = (weights.read_bytes(), weights.stat().st_mtime_ns)
    log = root / "refused.log"
    status = run(training_command(uninterrupted, root / "features"), log)
    assert status == 1
    message = log.read_text()
    assert f"--output_dir {uninterrupted} already holds a finished model" in message
    assert "--overwrite_output_dir" in message
    assert (weights.read_bytes(), weights.stat().st_mtime_ns) == before


@dataclass
class TerminatedRun:
    output_dir: Path
    stop_log: str
    checkpoint: Path
    had_final_model: bool
    resume_status: int
    resume_log: str


@pytest.fixture(scope="module")
def terminated(root, uninterrupted) -> TerminatedRun:
    """`accelerate launch`, as run_nsmc.sh does, gets SIGTERM (`kill`, `docker stop`) once training runs;
    then the checkpoint it names is resumed explicitly."""
    output_dir = root / "terminated"
    log = root / "terminated-1.log"
    launcher = start(training_command(output_dir, root / "features", launcher=True), log)
    wait_until(lambda: "training loss" in log.read_text(), launcher, "the first training step")
    launcher.send_signal(signal.SIGTERM)
    launcher.wait(timeout=TIMEOUT_S)
    # The training process outlives the launcher by the time it takes to finish its step and save.
    deadline = time.monotonic() + TIMEOUT_S
    while not (match := re.search(r"stopped by SIGTERM after saving (\S+);", log.read_text())):
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)
    checkpoint = Path(match.group(1))
    had_final_model = (output_dir / "model.safetensors").exists()

    resume_log = root / "terminated-2.log"
    resume = ["--resume_from_checkpoint", str(checkpoint)]
    resume_status = run(training_command(output_dir, root / "features", *resume, launcher=True), resume_log)
    return TerminatedRun(
        output_dir, log.read_text(), checkpoint, had_final_model, resume_status, resume_log.read_text()
    )


def test_sigterm_saves_a_checkpoint_and_stops_without_a_final_model(terminated):
    assert "SIGTERM received: saving a checkpoint at the end of this step" in terminated.stop_log
    assert terminated.checkpoint.parent == terminated.output_dir
    assert re.fullmatch(r"checkpoint-\d+", terminated.checkpoint.name)
    assert not terminated.had_final_model


def test_the_checkpoint_saved_on_sigterm_resumes_to_the_same_metrics(terminated, uninterrupted):
    assert terminated.resume_status == 0, terminated.resume_log[-3000:]
    assert final_metrics(terminated.output_dir) == final_metrics(uninterrupted)
    assert history(terminated.output_dir) == history(uninterrupted)


def test_only_a_process_started_by_accelerate_stops_when_its_parent_dies(monkeypatch):
    """A plain `nohup nsmc-train &` must outlive the shell that started it."""
    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    assert not launched_by_accelerate()
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    assert launched_by_accelerate()
