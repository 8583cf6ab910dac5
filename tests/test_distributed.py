"""Data parallel training: 2 processes x 16 reviews train exactly like 1 process x 32.

`ACCELERATE_USE_CPU=1 accelerate launch --config_file accelerate_configs/multi_gpu.yaml` (the
multi-GPU box's config) runs two ranks with gloo on the CPU, the same DDP code path as two GPUs;
`--mixed_precision no` as fp16 is for GPUs. Both runs train the same nsmc-mini reviews with
the same global batch of 32. The tiny model is used without dropout: each process draws its own
dropout masks, which no 1-process run can reproduce; without it the two runs compute the same
sums in another order, so their losses agree to rounding.

Every process logs a checksum of its weights after each epoch (`WeightsChecksumCallback`); with
`--log_level_replica info` rank 1's lines show too, which proves both ranks ran and held the
same weights.

Both runs keep the main process's default console (no --log_level), so their captured output is
also what a learner sees: checked here for what it must say and the library noise it must not show.
"""

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from transformers import AutoModelForSequenceClassification

from conftest import NSMC_MINI, REPO, TINY_MODEL, require
from hub_server import validate_card_metadata
from nsmc_trainer.console import weights_checksum

# A multiple of the global batch, so that neither run has a partial last batch (with 2 processes
# it would be topped up with repeated reviews, with 1 it would be smaller).
TRAIN_SAMPLES = 960
GLOBAL_BATCH = 32
STEPS_PER_EPOCH = TRAIN_SAMPLES // GLOBAL_BATCH
EPOCHS = 2
LEARNING_RATE = 1e-3
# Summed in another order, the two runs' losses agree to the last digit in the first epoch and
# drift apart by ~1e-4 in the second as training amplifies rounding; a wrong loss scale, sharding
# or schedule is off by far more (the average_tokens_across_devices trap doubles the loss).
LOSS_TOLERANCE = 1e-3
CHECKSUM_LINE = re.compile(r"process (\d+)/(\d+): weights checksum after (.+): ([0-9a-f]{16})")
# What the default console must not show: accelerate's note on values not passed, datasets' bars of
# our cache writes, transformers' table of the new head, torch's pin_memory warning without a GPU.
NOISE = ("were not passed to `accelerate launch`", "Saving the dataset", "LOAD REPORT", "MISSING", "pin_memory", "Warning")


def dropout_free_copy(model_dir: Path, destination: Path) -> Path:
    """The tiny model's files, linked, with a config that turns dropout off."""
    destination.mkdir()
    for path in model_dir.iterdir():
        if path.name != "config.json":
            (destination / path.name).symlink_to(path)
    config = json.loads((model_dir / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (destination / "config.json").write_text(json.dumps(config))
    return destination


def launch(
    launcher_args: list[str], model: Path, output_dir: Path, features: Path, batch_size: int, log_flags: list[str]
) -> str:
    command = [
        sys.executable, "-m", "accelerate.commands.launch", *launcher_args,
        str(REPO / "run_nsmc.py"),
        "--model_name_or_path", str(model),
        "--data_dir", str(NSMC_MINI),
        "--output_dir", str(output_dir),
        "--features_cache_dir", str(features),
        "--max_train_samples", str(TRAIN_SAMPLES),
        "--per_device_train_batch_size", str(batch_size),
        "--num_train_epochs", str(EPOCHS),
        "--learning_rate", str(LEARNING_RATE),
        "--logging_steps", "5",
        *log_flags,
        "--report_to", "none",
        "--disable_tqdm", "true",
    ]  # fmt: skip
    env = dict(
        os.environ,
        ACCELERATE_USE_CPU="1",
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=output_dir.parent)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    require(NSMC_MINI)
    require(TINY_MODEL)
    root = tmp_path_factory.mktemp("ddp")
    model = dropout_free_copy(TINY_MODEL, root / "model")
    configs = REPO / "accelerate_configs"
    two = launch(
        ["--config_file", str(configs / "multi_gpu.yaml"), "--num_processes", "2", "--mixed_precision", "no"],
        model, root / "two", root / "features", 16, ["--log_level_replica", "info"],
    )  # fmt: skip
    one = launch(["--config_file", str(configs / "cpu.yaml")], model, root / "one", root / "features", 32, [])
    return {"two": (root / "two", two), "one": (root / "one", one)}


def checksums(log: str) -> dict[tuple[str, int], str]:
    """(when, process) -> checksum, from the lines every process logs."""
    return {(when, int(rank)): digest for rank, _, when, digest in CHECKSUM_LINE.findall(log)}


def history(output_dir: Path) -> list[dict]:
    return json.loads((output_dir / "trainer_state.json").read_text())["log_history"]


def test_two_processes_ran_and_held_identical_weights_after_every_epoch(runs):
    _, log = runs["two"]
    setup = "Training on cpu:0 (DistributedType.MULTI_CPU): 32 reviews per optimizer step = 16 per device x 2 process(es)"
    assert log.count(setup) == 2
    logged = checksums(log)
    assert {world for _, world, _, _ in CHECKSUM_LINE.findall(log)} == {"2"}
    for when in [f"epoch {epoch}" for epoch in range(1, EPOCHS + 1)] + ["final model"]:
        assert (when, 0) in logged and (when, 1) in logged, when
        assert logged[(when, 0)] == logged[(when, 1)], when
    assert logged[("epoch 1", 0)] != logged[("epoch 2", 0)]


def test_the_saved_model_is_the_weights_both_processes_ended_with(runs):
    output_dir, log = runs["two"]
    saved = AutoModelForSequenceClassification.from_pretrained(output_dir)
    assert weights_checksum(saved) == checksums(log)[("final model", 1)]


def test_same_steps_losses_and_eval_loss_as_one_process_with_the_same_global_batch(runs):
    two, one = history(runs["two"][0]), history(runs["one"][0])
    assert [entry["step"] for entry in two] == [entry["step"] for entry in one]
    evaluations = [entry for entry in two if "eval_loss" in entry]
    assert [entry["step"] for entry in evaluations] == [STEPS_PER_EPOCH * epoch for epoch in range(1, EPOCHS + 1)]
    for two_entry, one_entry in zip(two, one):
        for key in ("loss", "eval_loss"):
            if key in one_entry:
                assert two_entry[key] == pytest.approx(one_entry[key], rel=LOSS_TOLERANCE), (key, one_entry["step"])


def test_learning_rate_drops_by_point_nine_per_epoch_of_global_batches(runs):
    logged = [entry for entry in history(runs["two"][0]) if "learning_rate" in entry]
    assert len(logged) == EPOCHS * STEPS_PER_EPOCH // 5
    for entry in logged:
        epoch = (entry["step"] - 1) // STEPS_PER_EPOCH
        assert entry["learning_rate"] == pytest.approx(LEARNING_RATE * 0.9**epoch), entry


def test_one_model_written_once(runs):
    output_dir, _ = runs["two"]
    state = json.loads((output_dir / "trainer_state.json").read_text())
    best = Path(state["best_model_checkpoint"]).name
    assert sorted(path.name for path in output_dir.iterdir() if path.is_dir()) == [best]
    assert sorted(path.relative_to(output_dir).as_posix() for path in output_dir.rglob("*.safetensors")) == [
        f"{best}/model.safetensors",
        "model.safetensors",
    ]


@pytest.mark.parametrize("run", ["one", "two"])
def test_the_default_console_says_where_what_and_where_to_and_nothing_else(runs, run):
    output_dir, log = runs[run]
    processes = {"one": 1, "two": 2}[run]
    assert re.search(rf"Training on cpu.*: 32 reviews per optimizer step = {32 // processes} per device x {processes} process", log)
    # The two-process run goes first and fills the cache; the one-process run reuses it.
    if run == "two":
        assert "Cached the parsed corpus in" in log and "Tokenizing features for 'train'" in log
    else:
        assert "Reusing the corpus read earlier" in log and "Reusing cached features for 'train'" in log
    assert "tokens: [CLS] 흠 . . . 포 ##스터 ##보고 초딩 ##영화 ##줄" in log and "label: positive" in log
    assert "the classification head (classifier.bias, classifier.weight)" in log
    assert "***** Running training *****" in log and "Num update steps per epoch = 30" in log
    assert re.search(r"epoch 1/2: learning rate 1\.00e-03, training loss 0\.\d{4}, eval loss 0\.\d{4}, accuracy \d+\.\d\d%", log)
    assert f"is in {output_dir}" in log and f"nsmc-push {output_dir} --hub_model_id YOUR_NAME/{output_dir.name}" in log
    for noise in NOISE:
        assert noise not in log, noise
    assert "{'loss'" not in log and "{'eval_loss'" not in log, "Trainer's dictionaries are replaced by our lines"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG signature and IHDR chunk, without an image library."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", header[16:24])


def test_learning_curves_are_drawn_and_the_card_shows_them_with_nsmc_metadata(runs):
    pytest.importorskip("matplotlib")
    output_dir, _ = runs["one"]
    width, height = png_size(output_dir / "training_curves.png")
    assert 1000 <= width <= 2000 and 300 <= height <= 1000
    card = (output_dir / "README.md").read_text(encoding="utf-8")
    assert "](training_curves.png)" in card
    meta = yaml.safe_load(card.split("---\n", 2)[1])
    assert meta["datasets"] == ["nsmc"] and "base_model" not in meta  # a local model with no Hub id
    [result] = meta["model-index"][0]["results"]
    assert result["dataset"]["type"] == "nsmc" and result["dataset"]["split"] == "test"
    assert validate_card_metadata(card) == ([], [])
    assert "| Training Loss | Epoch | Step | Validation Loss | Accuracy |" in card
    assert " | 1 | 30 | " in card and " | 2 | 60 | " in card
    matrix = json.loads((output_dir / "confusion_matrix.json").read_text())
    assert matrix["labels"] == ["negative", "positive"] and sum(map(sum, matrix["matrix"])) == 500
    assert "| true \\ predicted | `negative` | `positive` |" in card
