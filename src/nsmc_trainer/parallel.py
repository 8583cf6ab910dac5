"""What keeps training the same on 1 process, N data-parallel processes (GPUs) and TPU cores.

With N processes each one trains on its own shard of every batch and DDP (or XLA's all-reduce)
averages their gradients, so the replicas stay identical. That holds only if every process
draws the same shuffled order of examples; `GlobalLengthGroupedSampler` makes sure of it, and
`WeightsChecksumCallback` lets anyone see that the replicas did stay identical.

On XLA (TPU) every new input shape is compiled anew; `xla_compilations` is the count Trainer's
logs carry there, so a recompilation storm shows up in the first epoch's logs.
"""

import hashlib
import logging
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Sampler
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_pt_utils import get_length_grouped_indices

logger = logging.getLogger(__name__)


class GlobalLengthGroupedSampler(Sampler[int]):
    """Trainer's length grouping over the global batch, shuffled from `seed + epoch` alone.

    Trainer's own `LengthGroupedSampler` groups by the per-process batch and shuffles with the
    global torch RNG. Dropout draws from that RNG a different number of times on each process
    (their batches differ in shape), so from the second epoch on the processes would shard
    different permutations: some reviews trained on twice, others skipped. Grouping by
    `global_batch_size` (per-process batch x processes x accumulation) and seeding a private
    generator per epoch gives every process, and a 1-process run with the same global batch, the
    very same global batches.

    The epoch is read from `current_epoch` (Trainer's state) when an epoch's iteration starts,
    rather than passed by `set_epoch`: a run resumed mid-epoch skips batches through a wrapper
    that does not pass `set_epoch` on, and must redraw the order of the epoch it stopped in.
    """

    def __init__(self, lengths: list[int], global_batch_size: int, seed: int, current_epoch: Callable[[], int]):
        self.lengths = lengths
        self.global_batch_size = global_batch_size
        self.seed = seed
        self.current_epoch = current_epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.current_epoch())
        grouped = get_length_grouped_indices(self.lengths, self.global_batch_size, generator=generator)
        return iter(shuffle_batches(grouped, self.global_batch_size, generator))


def shuffle_batches(indices: list[int], batch_size: int, generator: torch.Generator) -> list[int]:
    """Whole batches in random order: grouping sorts each mega-batch longest to shortest, and that
    saw-tooth of lengths correlates consecutive steps, which costs accuracy at higher learning rates.

    The first batch keeps its place (it holds the longest review, so memory runs out at once if it
    will), and so does a last partial batch (every batch before it must be whole).
    """
    full = len(indices) // batch_size
    order = [0] + (torch.randperm(full - 1, generator=generator) + 1).tolist() if full > 1 else list(range(full))
    shuffled = [index for batch in order for index in indices[batch * batch_size : (batch + 1) * batch_size]]
    return shuffled + indices[full * batch_size :]


def describe_setup(args: TrainingArguments) -> str:
    """One line that says where training runs and how big a step is: the first thing to check
    when a GPU, several GPUs or a TPU was expected and something else was found."""
    per_step = args.train_batch_size * args.world_size * args.gradient_accumulation_steps
    return (
        f"Training on {args.device} ({args.distributed_state.distributed_type}): {per_step} reviews per "
        f"optimizer step = {args.train_batch_size} per device x {args.world_size} process(es) "
        f"x {args.gradient_accumulation_steps} accumulation step(s)"
    )


def mean_cross_entropy(predictions: np.ndarray | tuple, label_ids: np.ndarray) -> float:
    """The classification loss averaged over every example once, from the gathered logits.

    Trainer's eval_loss averages per-batch losses with each batch counted as a full one: a final
    partial batch is over-weighted, and with several processes it also holds the duplicates that
    pad it to full size. Recomputed here per example, eval_loss (which picks the best checkpoint)
    is the same whatever the batch size and number of processes.
    """
    logits = predictions[0] if isinstance(predictions, tuple) else predictions
    loss = torch.nn.functional.cross_entropy(
        torch.as_tensor(logits, dtype=torch.float32), torch.as_tensor(label_ids, dtype=torch.long)
    )
    return loss.item()


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


def xla_compilations() -> int:
    """How many graphs XLA compiled in this process so far (torch_xla's CompileTime metric).

    torch_xla is imported here, not at the top: it is installed only where there is an XLA device.
    """
    import torch_xla.debug.metrics as metrics

    data = metrics.metric_data("CompileTime")
    return data[0] if data else 0
