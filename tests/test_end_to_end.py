"""The README's story: `accelerate launch run_nsmc.py` fine-tunes on NSMC and leaves a usable model.

Runs the real launcher on nsmc-mini (2,000 train / 500 test reviews) with the tiny random-init
BERT for 3 epochs at lr 1e-3, twice, and checks what a learner would look at afterwards.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import pipeline

from conftest import NSMC_MINI, REPO, TINY_MODEL, require

STEPS_PER_EPOCH = math.ceil(2000 / 32)


def launch_training(output_dir: Path, features_cache: Path) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1",
        str(REPO / "run_nsmc.py"),
        "--model_name_or_path", str(TINY_MODEL),
        "--data_dir", str(NSMC_MINI),
        "--output_dir", str(output_dir),
        "--features_cache_dir", str(features_cache),
        "--num_train_epochs", "3",
        "--learning_rate", "1e-3",
        "--logging_steps", "5",
        "--report_to", "none",
        "--disable_tqdm", "true",
    ]  # fmt: skip
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=output_dir.parent)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    require(NSMC_MINI)
    require(TINY_MODEL)
    root = tmp_path_factory.mktemp("e2e")
    outputs = []
    for name in ("first", "second"):
        result = launch_training(root / name, root / "features")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        outputs.append(root / name)
    return outputs


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_logged_step_runs_at_lr_times_point_nine_per_epoch(runs):
    history = read_json(runs[0] / "trainer_state.json")["log_history"]
    logged = [entry for entry in history if "learning_rate" in entry]
    assert len(logged) >= 30
    for entry in logged:
        # A step logs the rate it ran at; the last step of an epoch (always logged) ran before the decay.
        epoch = (entry["step"] - 1) // STEPS_PER_EPOCH
        assert entry["learning_rate"] == pytest.approx(1e-3 * 0.9**epoch), entry


def test_one_evaluation_per_epoch(runs):
    history = read_json(runs[0] / "trainer_state.json")["log_history"]
    evaluations = [entry for entry in history if "eval_loss" in entry]
    assert [entry["epoch"] for entry in evaluations] == [1.0, 2.0, 3.0]
    assert all("eval_accuracy" in entry and "eval_f1" in entry for entry in evaluations)


def test_final_model_is_the_best_eval_loss_checkpoint_and_only_it_is_kept(runs):
    state = read_json(runs[0] / "trainer_state.json")
    evaluations = [entry for entry in state["log_history"] if "eval_loss" in entry]
    best = min(evaluations, key=lambda entry: entry["eval_loss"])
    assert state["best_metric"] == best["eval_loss"]
    best_checkpoint = runs[0] / f"checkpoint-{best['step']}"
    assert Path(state["best_model_checkpoint"]).name == best_checkpoint.name
    assert sorted(path.name for path in runs[0].glob("checkpoint-*")) == [best_checkpoint.name]

    final_weights = load_file(runs[0] / "model.safetensors")
    best_weights = load_file(best_checkpoint / "model.safetensors")
    assert final_weights.keys() == best_weights.keys()
    assert all(torch.equal(final_weights[name], best_weights[name]) for name in final_weights)
    assert read_json(runs[0] / "eval_results.json")["eval_loss"] == pytest.approx(best["eval_loss"])


def test_results_files_like_transformers_examples(runs):
    for name in ("train_results.json", "eval_results.json", "all_results.json", "trainer_state.json"):
        assert (runs[0] / name).is_file(), name
    results = read_json(runs[0] / "all_results.json")
    assert {"train_loss", "eval_loss", "eval_accuracy", "eval_f1", "train_samples", "eval_samples"} <= results.keys()
    assert results["train_samples"] == 2000 and results["eval_samples"] == 500


def test_same_seed_gives_the_same_metrics(runs):
    first, second = (read_json(run / "eval_results.json") for run in runs)
    for key in ("eval_loss", "eval_accuracy", "eval_f1"):
        assert first[key] == second[key], key


def test_saved_model_classifies_with_label_names(runs):
    classifier = pipeline("text-classification", model=str(runs[0]), device="cpu")
    predictions = classifier(["아 더빙.. 진짜 짜증나네요 목소리", "최고의 영화! 또 보고 싶다"])
    assert {prediction["label"] for prediction in predictions} <= {"negative", "positive"}
    config = read_json(runs[0] / "config.json")
    assert config["id2label"] == {"0": "negative", "1": "positive"}
