"""How reviews become batches: samplers, collators and XLA's padding buckets.

Computing on real tokens rather than padding is the point; the README's "Speed" section says
which scheme runs where, `token_efficiency` scores them, BENCHMARKS.md has the figures.
"""

import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import datasets
import numpy as np
import pyarrow.compute as pc
import torch
from torch.utils.data import Dataset, Sampler
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase, TrainingArguments, default_data_collator
from transformers.trainer_pt_utils import get_length_grouped_indices

from .config import LABEL_COLUMN, DataArguments
from .metrics import IGNORED_LABEL

logger = logging.getLogger(__name__)

INPUT_IDS = "input_ids"
# How many lengths XLA batches are padded to: each is one compiled graph (BENCHMARKS.md).
XLA_BUCKETS = 4
# TPU matrix units tile by 8 (and 128); lengths off that grid are padded again inside XLA anyway.
XLA_LENGTH_MULTIPLE = 8


def token_lengths(dataset: Dataset) -> np.ndarray:
    """Tokens per example, read from Arrow in one vectorized call for a `datasets.Dataset`, where
    Trainer's `LengthGroupedSampler` would decode every example in Python."""
    if isinstance(dataset, datasets.Dataset):
        return pc.list_value_length(dataset.with_format("arrow")[INPUT_IDS]).to_numpy()
    return np.array([len(example[INPUT_IDS]) for example in dataset], dtype=np.int64)


def padded_lengths(longest: np.ndarray, buckets: Sequence[int] | None) -> np.ndarray:
    """The length each batch is padded to: its own longest (`buckets=None`) or the smallest bucket that fits."""
    if buckets is None:
        return longest
    return np.asarray(buckets)[np.searchsorted(buckets, longest)]


def token_efficiency(
    lengths: np.ndarray, order: Sequence[int], batch_size: int, buckets: Sequence[int] | None = None
) -> float:
    """Real tokens / computed tokens when `order` is cut into batches of `batch_size`.

    `buckets=None` is dynamic padding, `buckets=(128,)` is padding to 128, a few buckets are XLA's.
    """
    batched = np.asarray(lengths)[np.asarray(order)]
    starts = np.arange(0, len(batched), batch_size)
    rows = np.diff(np.append(starts, len(batched)))
    computed = rows * padded_lengths(np.maximum.reduceat(batched, starts), buckets)
    return float(batched.sum() / computed.sum())


def choose_buckets(
    lengths: np.ndarray, max_length: int, num_buckets: int = XLA_BUCKETS, multiple_of: int = XLA_LENGTH_MULTIPLE
) -> tuple[int, ...]:
    """The `num_buckets` padding lengths that compute the fewest tokens for these examples.

    The largest is always `max_length`, so that any review (truncated to it) fits, including those
    of an evaluation set never seen here; the others are multiples of `multiple_of`, tried
    exhaustively. Each example is charged its own bucket, as length-grouped batches nearly are.
    """
    lengths = np.minimum(lengths, max_length)
    examples_up_to = np.cumsum(np.bincount(lengths, minlength=max_length + 1))
    candidates = range(multiple_of, min(max_length, int(lengths.max()) + multiple_of), multiple_of)

    def computed_tokens(buckets: tuple[int, ...]) -> int:
        examples_per_bucket = np.diff(examples_up_to[list(buckets)], prepend=0)
        return int(np.dot(examples_per_bucket, buckets))

    choices = (
        (*lower, max_length) for lower in itertools.combinations(candidates, min(num_buckets - 1, len(candidates)))
    )
    return min(choices, key=computed_tokens)


@dataclass
class BucketPaddingCollator:
    """Pads each batch to the smallest bucket that fits its longest review, so XLA sees few shapes."""

    tokenizer: PreTrainedTokenizerBase
    buckets: tuple[int, ...]

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        longest = max(len(feature[INPUT_IDS]) for feature in features)
        length = int(padded_lengths(np.array([longest]), self.buckets)[0])
        batch = self.tokenizer.pad(features, padding="max_length", max_length=length, return_tensors="pt")
        if LABEL_COLUMN in batch:  # prediction-only data has none
            batch["labels"] = batch.pop(LABEL_COLUMN)
        return batch


def make_collator(
    tokenizer: PreTrainedTokenizerBase,
    data_args: DataArguments,
    training_args: TrainingArguments,
    train_dataset: Dataset,
) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """The collator for this device; `train_dataset`'s lengths choose the XLA buckets."""
    if data_args.pad_to_max_length:
        return default_data_collator
    if training_args.device.type == "xla":
        lengths = token_lengths(train_dataset)
        buckets = choose_buckets(lengths, data_args.max_seq_length)
        log_static_shapes(lengths, buckets, training_args)
        return BucketPaddingCollator(tokenizer, buckets)
    # Multiples of 8 let GPU tensor cores work on the batch; elsewhere they would only add padding.
    pad_to_multiple_of = 8 if training_args.device.type == "cuda" else None
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)


def log_static_shapes(lengths: np.ndarray, buckets: tuple[int, ...], training_args: TrainingArguments) -> None:
    """Say up front which graphs XLA will compile, so an unexpected recompilation stands out."""
    train_shapes = ", ".join(f"{training_args.train_batch_size}x{length}" for length in buckets)
    logger.info(
        "XLA static shapes: batches are padded to one of %s tokens. Training compiles at most %d shapes "
        "(%s; the last partial batch is dropped); evaluation the same lengths at batch size %d (the last "
        "batch completed with filler rows that count nowhere). Token efficiency of these buckets on the training set: %.1f%% (padding "
        "to %d: %.1f%%).",
        buckets,
        len(buckets),
        train_shapes,
        training_args.eval_batch_size,
        100 * token_efficiency(lengths, np.arange(len(lengths)), 1, buckets),
        buckets[-1],
        100 * token_efficiency(lengths, np.arange(len(lengths)), 1, buckets[-1:]),
    )


def longest_first(lengths: np.ndarray) -> np.ndarray:
    """Evaluation order: longest first (an out-of-memory error shows at once), ties in dataset order."""
    return np.argsort(-np.asarray(lengths), kind="stable")


class GlobalLengthGroupedSampler(Sampler[int]):
    """Trainer's length grouping over the global batch, drawn from a private `seed + epoch` generator.

    Every process (and a 1-process run with the same global batch) then draws the very same global
    batches: Trainer's own sampler groups per process and shuffles with the global torch RNG, which
    dropout leaves in a different state on each process. The epoch is read from Trainer's state when
    iteration starts, because a run resumed mid-epoch iterates through a wrapper that does not pass
    `set_epoch` on.
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


class OrderSampler(Sampler[int]):
    """Yields a fixed, precomputed order of indices."""

    def __init__(self, order: np.ndarray):
        self.order = order

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[int]:
        return iter(self.order.tolist())


class WholeBatchesSampler(Sampler[int]):
    """Stops before the last partial batch: on XLA a smaller batch would be one more compiled graph."""

    def __init__(self, sampler: Sampler[int], batch_size: int):
        self.sampler = sampler
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self.sampler) // self.batch_size * self.batch_size

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.sampler), len(self))


class WholeBatchesDataset(Dataset):
    """An evaluation set completed to whole global batches, for XLA, where a smaller last batch would
    be one more compiled graph of the forward pass and of every gather after it.

    The filler rows that complete the last batch come after every real example in `order`: each is a
    copy of `order`'s last example (with longest-first order the shortest, so the last batch keeps
    its bucket) labelled `IGNORED_LABEL`, which the metrics and the loss skip, and `predict` cuts
    them off. As the length is then a multiple of the global batch, accelerate neither repeats
    examples to even out the processes nor cuts the last batch back by its remainder; so Trainer's
    own eval loss, reported only with `prediction_loss_only`, counts the last batch as a full one.
    """

    def __init__(self, dataset: Dataset, order: np.ndarray, global_batch_size: int):
        self.dataset = dataset
        self.filler = int(order[-1]) if len(order) else 0
        fillers = np.arange(len(order), len(order) + -len(order) % global_batch_size)
        self.order = np.concatenate([order, fillers])

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < len(self.dataset):
            return self.dataset[index]
        example = dict(self.dataset[self.filler])
        if LABEL_COLUMN in example:  # prediction-only data has none
            example[LABEL_COLUMN] = IGNORED_LABEL
        return example


def in_original_order(values: Any, order: np.ndarray) -> Any:
    """Undo an evaluation order: `values[i]` was computed for example `order[i]`.

    Rows past `order` (the filler rows of `WholeBatchesDataset`) are dropped. Tuples (several model
    outputs) are restored element-wise; None (no labels) stays None.
    """
    if isinstance(values, tuple):
        return tuple(in_original_order(value, order) for value in values)
    if values is None:
        return None
    restored = np.empty_like(values[: len(order)])
    restored[order] = values[: len(order)]
    return restored
