"""What a run prints: the logging setup, the setup line, and the replicas' weight checksums."""

import hashlib
import logging
import sys

import datasets
import torch
import transformers
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

logger = logging.getLogger(__name__)


def setup_logging(training_args: TrainingArguments) -> None:
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()
    logging.getLogger("nsmc_trainer").setLevel(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()


def describe_setup(args: TrainingArguments) -> str:
    """One line that says where training runs and how big a step is: the first thing to check
    when a GPU, several GPUs or a TPU was expected and something else was found."""
    per_step = args.train_batch_size * args.world_size * args.gradient_accumulation_steps
    return (
        f"Training on {args.device} ({args.distributed_state.distributed_type}): {per_step} reviews per "
        f"optimizer step = {args.train_batch_size} per device x {args.world_size} process(es) "
        f"x {args.gradient_accumulation_steps} accumulation step(s)"
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
    `--log_level_replica info` to see theirs.
    """

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._log(args, f"epoch {round(state.epoch or 0)}", kwargs["model"])

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._log(args, "final model", kwargs["model"])

    @staticmethod
    def _log(args: TrainingArguments, when: str, model: torch.nn.Module) -> None:
        logger.info(
            "process %d/%d: weights checksum after %s: %s",
            args.process_index,
            args.world_size,
            when,
            weights_checksum(model),
        )
