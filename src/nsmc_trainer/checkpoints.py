"""Checkpoints that survive interruptions: resume where a run stopped, never lose a finished model.

Resuming, the guard against overwriting a finished `--output_dir`, and atomic saves (a hidden
`.<name>.partial` directory renamed when complete); the README's "Interruptions and resuming"
says what a user sees.
"""

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint, rotate_checkpoints

from .config import RESUME_LAST
from .history import TRAINER_STATE_NAME

logger = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
REPLACED_SUFFIX = ".replaced"
# Top-level files that make an output directory hold a finished model; they are published last.
WEIGHTS_PATTERNS = ("model*.safetensors", "pytorch_model*.bin")
WEIGHTS_INDEX_PATTERNS = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


class OutputDirError(ValueError):
    """`--output_dir` or `--resume_from_checkpoint` does not allow the run; the message says what to do."""


def weights_files(directory: Path) -> list[Path]:
    """Weight files (then their index) at the top of `directory`: the files that make a model."""
    patterns = WEIGHTS_PATTERNS + WEIGHTS_INDEX_PATTERNS
    return [path for pattern in patterns for path in sorted(directory.glob(pattern)) if path.is_file()]


def checkpoint_dirs(output_dir: Path) -> list[Path]:
    return [path for path in output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if path.is_dir()]


def check_output_dir(args: TrainingArguments) -> None:
    """Refuse, before any work, a run that would overwrite a finished model or resume from nowhere."""
    output_dir = Path(args.output_dir)
    requested = args.resume_from_checkpoint
    if requested is not None and requested != RESUME_LAST:
        if not (Path(requested) / TRAINER_STATE_NAME).is_file():
            raise OutputDirError(
                f"--resume_from_checkpoint {requested}: not a checkpoint directory (it has no "
                f"{TRAINER_STATE_NAME}). Pass a {PREFIX_CHECKPOINT_DIR}-N directory, or the flag alone to resume "
                "the last one in --output_dir."
            )
    elif requested is not None and not args.overwrite_output_dir:
        if not (output_dir.is_dir() and checkpoint_dirs(output_dir)):
            raise OutputDirError(
                f"--resume_from_checkpoint: {output_dir} has no {PREFIX_CHECKPOINT_DIR}-N directory to resume from."
            )
    if weights_files(output_dir) and not args.overwrite_output_dir:
        raise OutputDirError(
            f"--output_dir {output_dir} already holds a finished model. Pass --overwrite_output_dir to train "
            "again there (its model and checkpoints are deleted first), or choose another --output_dir."
        )


def prepare_output_dir(args: TrainingArguments) -> str | None:
    """The checkpoint this run resumes from (None: a fresh start), once `check_output_dir` agrees.

    - --overwrite_output_dir (without --resume_from_checkpoint) starts over: the previous run's
      weights and checkpoints are deleted, so that a crash of the new run cannot be mistaken for
      the old one, and re-running without the flag resumes the new run;
    - otherwise the last `checkpoint-N` is resumed, whether --resume_from_checkpoint named it,
      asked for the last one, or was left out (re-running the command of a crashed run).
    """
    check_output_dir(args)
    output_dir = Path(args.output_dir)
    requested = args.resume_from_checkpoint
    with args.main_process_first(desc="preparing the output directory"):
        if args.should_save:
            clean_up_interrupted_saves(output_dir)
        if args.overwrite_output_dir and requested is None:
            if args.should_save:
                discard_previous_run(output_dir)
            return None
        if requested is not None and requested != RESUME_LAST:
            return requested
        last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if last is not None:
        logger.warning("Resuming from %s (pass --overwrite_output_dir to start over instead)", last)
    return last


def clean_up_interrupted_saves(output_dir: Path) -> None:
    """Undo what a crash during a save left: half-written directories go, and a replaced checkpoint
    whose successor never got its name takes it back."""
    for partial in output_dir.glob(f".*{PARTIAL_SUFFIX}"):
        logger.info("Removing %s, left by a save that did not finish", partial)
        shutil.rmtree(partial, ignore_errors=True)
    for replaced in output_dir.glob(f".*{REPLACED_SUFFIX}"):
        final = output_dir / replaced.name[1 : -len(REPLACED_SUFFIX)]
        if final.exists():
            shutil.rmtree(replaced)
        else:
            os.replace(replaced, final)


def discard_previous_run(output_dir: Path) -> None:
    for path in checkpoint_dirs(output_dir):
        shutil.rmtree(path)
    for path in weights_files(output_dir):
        path.unlink()
    logger.warning("--overwrite_output_dir: deleted the previous model and checkpoints in %s", output_dir)


def rename_into_place(staged: Path, final: Path) -> None:
    """Give a complete directory its final name, replacing one already there (a re-saved step)."""
    if not final.exists():
        os.replace(staged, final)
        return
    retired = final.with_name(f".{final.name}{REPLACED_SUFFIX}")
    shutil.rmtree(retired, ignore_errors=True)
    os.replace(final, retired)
    os.replace(staged, final)
    shutil.rmtree(retired)


def move_model_files(staged: Path, output_dir: Path) -> None:
    """Move a saved model's files into `output_dir`, weights last.

    Each move is an atomic rename, and the weights are what make `output_dir` "finished", so a
    crash before the last move leaves a directory that the next run resumes instead of refusing.
    Weight files of an older model that the new one does not have are removed, so that a loader
    never mixes them in.
    """
    weights = weights_files(staged)
    others = sorted(path for path in staged.iterdir() if path not in weights)
    stale = {path.name for path in weights_files(output_dir)} - {path.name for path in weights}
    for path in others:
        os.replace(path, output_dir / path.name)
    for name in stale:
        (output_dir / name).unlink()
    for path in weights:
        os.replace(path, output_dir / path.name)
    staged.rmdir()


def save_model_atomically(trainer: Trainer) -> None:
    """`trainer.save_model()` into `args.output_dir`, through a hidden directory and renames.

    Trainer never pushes here: `hub.take_push_request` turned `push_to_hub` off.
    """
    output_dir = Path(trainer.args.output_dir)
    staged = output_dir / f".model{PARTIAL_SUFFIX}"
    if trainer.args.should_save:
        shutil.rmtree(staged, ignore_errors=True)
    trainer.save_model(str(staged))
    trainer.accelerator.wait_for_everyone()
    if trainer.args.should_save:
        move_model_files(staged, output_dir)


def rotate_by_step(run_dir: str, save_total_limit: int | None, best_model_checkpoint: str | None) -> None:
    """Trainer's rotation (the best and the latest checkpoint are kept), ordered by step number:
    modification times are unreliable on FUSE mounts such as Google Drive."""
    rotate_checkpoints(run_dir, save_total_limit, best_model_checkpoint, use_mtime=False)


class SaveEverySteps(TrainerCallback):
    """Saves a checkpoint every `steps` optimizer steps, without evaluating, to resume from after a crash.

    The best model is still chosen among the evaluated checkpoints; rotation keeps it and the latest.
    """

    def __init__(self, steps: int):
        if steps < 1:
            raise ValueError(f"--resume_checkpoint_steps must be at least 1, got {steps}")
        self.steps = steps

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        if state.global_step % self.steps == 0:
            control.should_save = True


class ResumableCheckpoints:
    """Trainer mixin: atomic checkpoints, plus the extra ones of --resume_checkpoint_steps.

    Trainer writes a checkpoint straight into `output_dir/checkpoint-N`; here the output directory
    it sees during `_save_checkpoint` is a hidden staging directory, and the complete checkpoint is
    then renamed into place and the old ones rotated, as Trainer would have done.
    """

    _staging_dir: str | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        resume_checkpoint_steps = getattr(self.args, "resume_checkpoint_steps", None)
        if resume_checkpoint_steps:
            self.add_callback(SaveEverySteps(resume_checkpoint_steps))

    def _get_output_dir(self, trial: Any) -> str:
        return self._staging_dir if self._staging_dir is not None else super()._get_output_dir(trial)

    def _save_checkpoint(self, model: torch.nn.Module, trial: Any) -> None:
        run_dir = super()._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        self._staging_dir = os.path.join(run_dir, f".{name}{PARTIAL_SUFFIX}")
        if self.args.should_save:
            shutil.rmtree(self._staging_dir, ignore_errors=True)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            staging_dir, self._staging_dir = self._staging_dir, None
        staged, final = os.path.join(staging_dir, name), os.path.join(run_dir, name)
        if self.state.best_model_checkpoint == staged:
            self.state.best_model_checkpoint = final
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            self.state.save_to_json(os.path.join(staged, TRAINER_STATE_NAME))
            rename_into_place(Path(staged), Path(final))
            os.rmdir(staging_dir)
            rotate_by_step(run_dir, self.args.save_total_limit, self.state.best_model_checkpoint)
        self.accelerator.wait_for_everyone()


