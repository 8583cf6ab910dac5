"""The TPU story on an emulated XLA device: `bash run_nsmc.sh tpu` trains, evaluates and saves.

`PJRT_DEVICE=CPU` makes torch_xla's CPU client the XLA device, so the real TPU launch path runs:
accelerate's XLA launcher (`xmp.spawn` calling run_nsmc.py's `main`), `DistributedType.XLA`,
device `xla:0`, the bucket collator, graph compilation. It spawns one process per XLA device,
and the CPU client has one, so the v2-8 config's 8 replicas become one here; all-reduce across
replicas needs a real TPU (torch_xla cannot run collectives across emulated CPU devices).

Needs torch_xla, which needs torch 2.9.0: `bash tests/xla/run_xla_check.sh` builds .venv-xla and
runs this file there. Elsewhere (the main suite) it is skipped.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch_xla", reason="needs torch_xla: run `bash tests/xla/run_xla_check.sh`")

from conftest import NSMC_MINI, REPO, TINY_MODEL, require  # noqa: E402

TRAIN_SAMPLES = 64
# Not a multiple of the batch: the last evaluation batch is completed with filler rows.
EVAL_SAMPLES = 42
PER_CORE_BATCH = 4
STEPS_PER_EPOCH = TRAIN_SAMPLES // PER_CORE_BATCH
EPOCHS = 3
# Training compiles a step per batch shape (4 bucket lengths) and the loss logging's reduction;
# evaluation a forward pass per shape and one gather each for loss, logits' size, logits and labels.
# Measured in BENCHMARKS.md ("XLA compilations"); none after the first evaluation.
MAX_COMPILATIONS = 20
MAIN_VENV_PYTHON = REPO / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str]:
    require(NSMC_MINI)
    require(TINY_MODEL)
    root = tmp_path_factory.mktemp("xla")
    output_dir = root / "out"
    command = [
        "bash", str(REPO / "run_nsmc.sh"), "tpu",
        "--model_name_or_path", str(TINY_MODEL),
        "--data_dir", str(NSMC_MINI),
        "--output_dir", str(output_dir),
        "--features_cache_dir", str(root / "features"),
        "--max_train_samples", str(TRAIN_SAMPLES),
        "--max_eval_samples", str(EVAL_SAMPLES),
        "--num_train_epochs", str(EPOCHS),
        "--learning_rate", "1e-3",
        "--logging_steps", "4",
        "--log_level", "info",
        "--report_to", "none",
        "--disable_tqdm", "true",
    ]  # fmt: skip
    env = dict(
        os.environ,
        # run_nsmc.sh calls `accelerate` from PATH: this venv's.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        PJRT_DEVICE="CPU",
        # On an XLA device that is not a TPU, accelerate takes the local process index from
        # LOCAL_RANK (-1 when unset), and process -1 logs nothing; on a TPU it asks torch_xla.
        LOCAL_RANK="0",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=root)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    return output_dir, log


def history(output_dir: Path) -> list[dict]:
    return json.loads((output_dir / "trainer_state.json").read_text())["log_history"]


def test_trained_on_the_xla_device_with_static_shapes(run):
    _, log = run
    assert "Training on xla:0 (DistributedType.XLA): 4 reviews per optimizer step = 4 per device x 1 process(es)" in log
    assert "XLA static shapes: batches are padded to one of" in log


def test_training_and_one_evaluation_per_epoch_completed(run):
    output_dir, _ = run
    entries = history(output_dir)
    assert max(entry["step"] for entry in entries) == EPOCHS * STEPS_PER_EPOCH
    evaluations = [entry for entry in entries if "eval_loss" in entry]
    assert [entry["epoch"] for entry in evaluations] == [float(epoch) for epoch in range(1, EPOCHS + 1)]
    results = json.loads((output_dir / "all_results.json").read_text())
    assert {"train_loss", "eval_loss", "eval_accuracy"} <= results.keys()


def test_compilations_are_few_and_stop_once_every_shape_was_seen(run):
    output_dir, _ = run
    entries = history(output_dir)
    first_evaluation = next(entry for entry in entries if "eval_loss" in entry)
    assert first_evaluation["step"] == STEPS_PER_EPOCH
    # The first epoch's training, logged just before its evaluation, must not wait on more graphs in evaluation.
    training = entries[entries.index(first_evaluation) - 1]
    assert training["step"] == STEPS_PER_EPOCH and "loss" in training
    assert first_evaluation["xla_compilations"] - training["xla_compilations"] <= training["xla_compilations"], entries
    # The first epoch compiled every training and evaluation shape; the next two add none.
    later = [entry["xla_compilations"] for entry in entries[entries.index(first_evaluation) :]]
    assert len(later) > (EPOCHS - 1) * STEPS_PER_EPOCH // 4
    assert set(later) == {first_evaluation["xla_compilations"]}, entries
    assert first_evaluation["xla_compilations"] <= MAX_COMPILATIONS


def test_saved_model_loads_and_classifies_on_plain_cpu_torch(run):
    """A model trained on a TPU must be usable where there is no torch_xla: the main venv's torch."""
    output_dir, _ = run
    python = str(MAIN_VENV_PYTHON) if MAIN_VENV_PYTHON.exists() else sys.executable
    script = (
        "import sys, torch; from transformers import pipeline\n"
        "assert 'torch_xla' not in sys.modules\n"
        f"classifier = pipeline('text-classification', model={str(output_dir)!r}, device='cpu')\n"
        "print(torch.__version__, classifier(['최고의 영화! 또 보고 싶다'])[0]['label'])\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] in {"negative", "positive"}
