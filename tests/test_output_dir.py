"""Finished work is never lost: a finished --output_dir is only replaced on request, and a save that
fails half-way leaves the previous model as it was."""

import hashlib
import os
import resource
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

from conftest import train_on_mini
from nsmc_trainer.checkpoints import (
    OutputDirError,
    check_output_dir,
    prepare_output_dir,
    rotate_by_step,
    save_model_atomically,
)
from nsmc_trainer.config import NsmcTrainingArguments


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A real run of one epoch on 64 reviews: the final model at the top, the best checkpoint beside it."""
    root = tmp_path_factory.mktemp("finished")
    train_on_mini(root / "run", root / "features")
    return root / "run"


@pytest.fixture
def output_dir(finished_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def arguments(output_dir: Path, **flags) -> NsmcTrainingArguments:
    return NsmcTrainingArguments(output_dir=str(output_dir), report_to="none", **flags)


def digests(directory: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in directory.iterdir() if path.is_file()}


def test_a_finished_model_is_refused_with_a_message_naming_the_directory_and_the_flag(output_dir):
    with pytest.raises(OutputDirError, match="--overwrite_output_dir") as refused:
        check_output_dir(arguments(output_dir))
    assert f"--output_dir {output_dir} already holds a finished model" in str(refused.value)


def test_overwrite_output_dir_starts_over_without_the_previous_model_or_checkpoints(output_dir):
    assert list(output_dir.glob("checkpoint-*"))
    assert prepare_output_dir(arguments(output_dir, overwrite_output_dir=True)) is None
    assert list(output_dir.glob("checkpoint-*")) == []
    assert not (output_dir / "model.safetensors").exists()
    # Without the weights the directory is no longer "finished": re-running without the flag resumes it.
    check_output_dir(arguments(output_dir))


def test_resuming_needs_a_checkpoint(tmp_path):
    with pytest.raises(OutputDirError, match="has no checkpoint-N directory to resume from"):
        check_output_dir(arguments(tmp_path, resume_from_checkpoint="last"))
    with pytest.raises(OutputDirError, match="not a checkpoint directory"):
        check_output_dir(arguments(tmp_path, resume_from_checkpoint=str(tmp_path)))


@contextmanager
def files_limited_to(max_bytes: int) -> Iterator[None]:
    """A real fault, like a full disk: writing past `max_bytes` fails with EFBIG (Python ignores SIGXFSZ)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_final_save_that_fails_half_way_leaves_the_previous_model_loadable(output_dir):
    before = digests(output_dir)
    model = AutoModelForSequenceClassification.from_pretrained(output_dir)
    saved = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=str(output_dir), report_to="none"),
        processing_class=AutoTokenizer.from_pretrained(output_dir),
    )
    # The config and tokenizer fit in 1 MB, the 16 MB of weights do not.
    with files_limited_to(1 << 20), pytest.raises(Exception, match="File too large"):
        save_model_atomically(trainer)

    assert digests(output_dir) == before
    reloaded = AutoModelForSequenceClassification.from_pretrained(output_dir).state_dict()
    assert all(torch.equal(reloaded[name], tensor) for name, tensor in saved.items())


@pytest.mark.parametrize("mtimes", [(3000, 2000, 1000), (5, 5, 5)], ids=["reversed-mtimes", "equal-mtimes"])
def test_rotation_keeps_the_best_and_the_latest_step_whatever_the_modification_times(tmp_path, mtimes):
    """On FUSE mounts such as Google Drive, modification times can be equal or out of order."""
    for step, mtime in zip((100, 200, 300), mtimes):
        checkpoint = tmp_path / f"checkpoint-{step}"
        checkpoint.mkdir()
        os.utime(checkpoint, (mtime, mtime))
    rotate_by_step(str(tmp_path), save_total_limit=1, best_model_checkpoint=str(tmp_path / "checkpoint-100"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint-100", "checkpoint-300"]
