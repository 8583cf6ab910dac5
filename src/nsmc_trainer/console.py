"""What a run prints: the logging setup, the setup line, one line per epoch, the final summary, and
the replicas' weight checksums.

By default (`--log_level passive`, TrainingArguments' default) the main process shows this
package's INFO lines and Trainer's "Running training" block, and the libraries only their
warnings, as a learner following the book wants to read it. An explicit `--log_level` applies to
every library alike (`debug` shows everything); replicas log at `--log_level_replica`.
"""

import hashlib
import logging
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub
import torch
import transformers
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm
from transformers import (
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from .history import best_index, epoch_results

logger = logging.getLogger(__name__)

PACKAGE_LOGGER = "nsmc_trainer"
# The logger of Trainer's "***** Running training *****" block, and the method that logs it.
TRAINER_LOGGER = "transformers.trainer"
TRAINING_SUMMARY_FUNCTION = Trainer._inner_training_loop.__name__


def process_log_levels(args: TrainingArguments) -> tuple[int, int]:
    """(this package's level, the libraries' level) for this process."""
    if args.should_log and args.log_level == "passive":
        return logging.INFO, logging.WARNING
    level = args.get_process_log_level()
    return level, level


def only_training_summary(record: logging.LogRecord) -> bool:
    """Trainer's INFO lines but the one block that says how many examples, epochs and steps a run has."""
    return record.levelno != logging.INFO or record.funcName == TRAINING_SUMMARY_FUNCTION


def quiet_progress_bars() -> None:
    """Bars of work the log already describes: datasets' cache writes and tokenization, transformers'
    loading and writing of weights. The Hub's download and upload bars stay, and so does Trainer's."""
    if datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS is None:
        datasets.disable_progress_bars()
    hub_bars = not huggingface_hub.utils.are_progress_bars_disabled()
    transformers.utils.logging.disable_progress_bar()  # switches the Hub's bars off too
    if hub_bars:
        huggingface_hub.utils.enable_progress_bars()


def setup_logging(training_args: TrainingArguments) -> None:
    """One handler and one format for our lines and transformers', at the levels of `process_log_levels`."""
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    ours, libraries = process_log_levels(training_args)
    logging.getLogger(PACKAGE_LOGGER).setLevel(ours)
    transformers.utils.logging.set_verbosity(libraries)
    transformers.utils.logging.disable_default_handler()
    transformers.utils.logging.enable_propagation()
    # datasets keeps its own handler; propagated too, its lines would print twice.
    datasets.utils.logging.set_verbosity(libraries)
    datasets.utils.logging.disable_propagation()
    # Set or undone each time, since a notebook may call this again with another level.
    trainer_logger = logging.getLogger(TRAINER_LOGGER)
    if ours == logging.INFO and libraries > logging.INFO:
        trainer_logger.setLevel(logging.INFO)
        trainer_logger.addFilter(only_training_summary)
    else:
        trainer_logger.setLevel(logging.NOTSET)
        trainer_logger.removeFilter(only_training_summary)
    if ours > logging.DEBUG:
        quiet_progress_bars()


def precision(args: TrainingArguments) -> str:
    if args.bf16:
        return "bf16 mixed precision"
    if args.fp16:
        return "fp16 mixed precision"
    return "float32"


def describe_setup(args: TrainingArguments) -> str:
    """One line that says where training runs and how big a step is: the first thing to check
    when a GPU, several GPUs or a TPU was expected and something else was found."""
    per_step = args.train_batch_size * args.world_size * args.gradient_accumulation_steps
    return (
        f"Training on {args.device} ({args.distributed_state.distributed_type}): {per_step} reviews per "
        f"optimizer step = {args.train_batch_size} per device x {args.world_size} process(es) "
        f"x {args.gradient_accumulation_steps} accumulation step(s); {precision(args)}"
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _loss(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


class EpochLogCallback(TrainerCallback):
    """One line per epoch (learning rate, training loss, eval loss, accuracy, best so far), as the
    book's progress shows them, instead of Trainer's dictionaries.

    A loss is logged at the end of every epoch too, so that each epoch has its training loss
    whatever `--logging_steps` is. Without a progress bar (`--disable_tqdm`) every logged step gets a
    line; with one, the latest loss and learning rate are shown on the bar (`LossProgressCallback`).
    """

    def __init__(self) -> None:
        self.training = False

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.training = True

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.training = False

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        control.should_log = True

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if args.disable_tqdm and logs and "loss" in logs and "learning_rate" in logs:
            logger.info(
                "step %d/%d (epoch %.2f): training loss %.4f, learning rate %.2e",
                state.global_step,
                state.max_steps,
                logs.get("epoch", state.epoch or 0),
                logs["loss"],
                logs["learning_rate"],
            )

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        results = epoch_results(state.log_history)
        if not self.training or not results:
            return
        latest = results[-1]
        best = best_index(state.log_history, args.metric_for_best_model or "eval_loss", bool(args.greater_is_better))
        lr = "n/a" if latest.learning_rate is None else f"{latest.learning_rate:.2e}"
        logger.info(
            "epoch %d/%d: learning rate %s, training loss %s, eval loss %s, accuracy %s%s",
            round(latest.epoch),
            round(args.num_train_epochs),
            lr,
            _loss(latest.training_loss),
            _loss(latest.eval_loss),
            _percent(latest.accuracy),
            " (best so far)" if best == len(results) - 1 else "",
        )


class LossProgressCallback(ProgressCallback):
    """Trainer's progress bar, with the latest training loss and learning rate on it instead of a
    dictionary printed under it at every logging step."""

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None and logs and "loss" in logs:
            self.training_bar.set_postfix(loss=f"{logs['loss']:.4f}", lr=f"{logs.get('learning_rate', 0):.2e}")


class OneWriteTqdm(tqdm):
    """`tqdm.write` in one write: a line and its newline written apart let another process's line
    land between them."""

    @classmethod
    def write(cls, s: str, file: Any = None, end: str = "\n", nolock: bool = False) -> None:
        super().write(s + end, file=file, end="", nolock=nolock)


def lines_above_the_bar() -> AbstractContextManager:
    """Log lines written through tqdm while training, so that they print above Trainer's progress bar
    instead of into it."""
    return logging_redirect_tqdm(loggers=[logging.getLogger()], tqdm_class=OneWriteTqdm)


def use_console_callbacks(trainer: Trainer) -> None:
    """Swap Trainer's printing callbacks for ours; its progress bar stays, unless --disable_tqdm."""
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(LossProgressCallback())
    trainer.pop_callback(PrinterCallback)
    trainer.add_callback(EpochLogCallback())


def describe_result(
    output_dir: str | Path,
    eval_metrics: dict[str, Any],
    state: TrainerState,
    args: TrainingArguments,
    split: str,
    pushed_to: str | None = None,
) -> str:
    """The last lines of a run: where the model is, how good it is, and what to do with it next."""
    results = epoch_results(state.log_history)
    best = best_index(state.log_history, args.metric_for_best_model or "eval_loss", bool(args.greater_is_better))
    epoch = f"epoch {round(results[best].epoch)} of {len(results)}, " if best is not None else ""
    model = pushed_to or output_dir
    next_steps = [f'  nsmc-predict --model {model} "재밌어요" "시간 아깝다"', f"  nsmc-serve --model {model}"]
    if pushed_to is None:
        next_steps.append(f"  nsmc-push {output_dir} --hub_model_id YOUR_NAME/{Path(output_dir).resolve().name}")
    return (
        f"The best model ({epoch}eval loss {_loss(eval_metrics.get('eval_loss'))}, accuracy "
        f"{_percent(eval_metrics.get('eval_accuracy'))} on {eval_metrics.get('eval_samples', '?')} '{split}' examples) "
        f"is in {Path(output_dir).resolve()}, with its model card README.md"
        + (f", and on the Hub as {pushed_to}" if pushed_to else "")
        + ". Next:\n"
        + "\n".join(next_steps)
    )


def weights_checksum(model: torch.nn.Module) -> str:
    """SHA-256 over every parameter's and buffer's name and bytes, in state_dict order."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


class WeightsChecksumCallback(TrainerCallback):
    """Every process logs a checksum of its weights after each epoch and at the end of training.

    Data-parallel replicas must hold identical weights; equal checksums across processes prove
    they do. Non-main processes log at `--log_level_replica` (warning by default), so pass
    `--log_level_replica info` to see theirs. A single process logs its checksums at DEBUG.
    """

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._log(args, f"epoch {round(state.epoch or 0)}", kwargs["model"])

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._log(args, "final model", kwargs["model"])

    @staticmethod
    def _log(args: TrainingArguments, when: str, model: torch.nn.Module) -> None:
        # With one process there is nothing to compare it with: a detail, for --log_level debug.
        logger.log(
            logging.INFO if args.world_size > 1 else logging.DEBUG,
            "process %d/%d: weights checksum after %s: %s",
            args.process_index,
            args.world_size,
            when,
            weights_checksum(model),
        )
