"""Stopping cleanly: SIGTERM and SIGINT (and the death of the `accelerate launch` parent) save a
checkpoint at the end of the current step, then stop, so that the same command resumes."""

import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import torch
from accelerate.utils import reduce
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

logger = logging.getLogger(__name__)

# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1


class TrainingInterrupted(Exception):
    """Training stopped on a signal after saving a checkpoint; re-running the command resumes from it."""

    def __init__(self, signal_number: int, checkpoint: str):
        self.signal_number = signal_number
        self.checkpoint = checkpoint
        super().__init__(
            f"stopped by {signal.Signals(signal_number).name} after saving {checkpoint}; "
            "run the same command again to resume from it"
        )

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal, so scripts see it was stopped."""
        return 128 + self.signal_number


class StopOnSignal(TrainerCallback):
    """Turns SIGTERM/SIGINT into "save a checkpoint at the end of this step, then stop".

    Stopping is an exception raised from `on_save`, once the checkpoint is on disk: returning from
    `train()` normally would load the best model and delete the latest checkpoint, and the caller
    would save an unfinished model as if it were final.
    """

    def __init__(self) -> None:
        self.signal_number: int | None = None
        self.stopping = False
        self.previous_handlers: dict[int, Any] = {}

    def handle(self, signal_number: int, frame: FrameType | None) -> None:
        """Ask for the save, and hand the signal back to its previous handler: a second one acts at once."""
        self.signal_number = signal_number
        signal.signal(signal_number, self.previous_handlers.get(signal_number, signal.SIG_DFL))
        logger.warning(
            "%s received: saving a checkpoint at the end of this step, then stopping (send it again to stop now)",
            signal.Signals(signal_number).name,
        )

    def stop_requested(self, args: TrainingArguments, control: TrainerControl) -> bool:
        """Whether any process got a signal: all of them must decide to save at the same step.

        Processes agree through an all-reduce, on every step, except on XLA where reading a value
        back from the device stalls the pipeline: there they agree at the logging steps only, when
        Trainer reads the loss back anyway.
        """
        requested = self.signal_number is not None
        if args.world_size <= 1:
            return requested
        if args.device.type == "xla" and not control.should_log:
            return False
        return bool(reduce(torch.tensor(float(requested), device=args.device), reduction="sum").item())

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        if not self.stopping and self.stop_requested(args, control):
            self.stopping = True
            self.signal_number = self.signal_number or signal.SIGTERM
            control.should_save = True

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        if self.stopping:
            raise TrainingInterrupted(
                self.signal_number, os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
            )


@contextmanager
def checkpoint_on_signals(
    trainer: Trainer, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)
) -> Iterator[None]:
    """While training, a signal in `signals` saves a checkpoint and raises `TrainingInterrupted`.

    Handlers can only be installed from the main thread; elsewhere signals keep their behaviour.
    """
    callback = StopOnSignal()
    trainer.add_callback(callback)
    try:
        callback.previous_handlers = {number: signal.signal(number, callback.handle) for number in signals}
    except ValueError:
        logger.info("Not in the main thread: a signal will stop training without saving a checkpoint")
    launched = launched_by_accelerate()
    if launched:
        set_parent_death_signal(signal.SIGTERM)
    try:
        yield
    finally:
        if launched:
            set_parent_death_signal(0)
        for number, handler in callback.previous_handlers.items():
            signal.signal(number, handler)
        trainer.remove_callback(callback)


def launched_by_accelerate() -> bool:
    """Whether an `accelerate launch` process started this one (every launcher of accelerate sets
    this variable): only then is the parent's death a reason to stop; a plain `nohup nsmc-train &`
    must outlive the shell that started it."""
    return "ACCELERATE_MIXED_PRECISION" in os.environ


def set_parent_death_signal(signal_number: int) -> None:
    """Ask Linux for `signal_number` when the parent process dies (0: nothing).

    `accelerate launch` does not pass SIGTERM on to the training process it started: killing the
    launcher (`kill`, `docker stop`, a scheduler) would leave training running on its own. With
    SIGTERM as the parent-death signal, it saves a checkpoint and stops instead.
    """
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal_number) != 0:
        logger.info("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
