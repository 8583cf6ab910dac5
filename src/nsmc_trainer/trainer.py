"""`NsmcTrainer`: HF Trainer with ratsnlp's optimizer and per-epoch schedule, our samplers, and the
per-example eval loss. The non-public Trainer methods it overrides are listed in internals.py."""

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from accelerate.utils import send_to_device
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader, Dataset, Sampler
from transformers import AttentionInterface, AttentionMaskInterface, PreTrainedModel, Trainer, TrainingArguments
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import sdpa_mask
from transformers.trainer_utils import EvalLoopOutput, PredictionOutput

from .batching import (
    GlobalLengthGroupedSampler,
    OrderSampler,
    WholeBatchesDataset,
    WholeBatchesSampler,
    in_original_order,
    longest_first,
    token_lengths,
)
from .checkpoints import ResumableCheckpoints
from .metrics import mean_cross_entropy
from .schedule import create_optimizer, per_epoch_decay


class NsmcTrainer(ResumableCheckpoints, Trainer):
    """Trainer with ratsnlp's AdamW and per-epoch ExponentialLR instead of linear warmup/decay.

    With `train_sampling_strategy="group_by_length"` it also batches reviews of similar length for
    evaluation and prediction, and reads lengths from the token ids' Arrow column: Trainer drops the
    `length` column before it builds the sampler and would then count every example in Python.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.args.device.type == "xla":
            use_sdpa_with_mask(self.model)

    def _get_train_sampler(self, train_dataset: Dataset | None = None) -> Sampler | None:
        """Length grouping that every process draws alike; on XLA whole global batches only, as a
        partial one would be one more compiled graph."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length":
            sampler = GlobalLengthGroupedSampler(
                token_lengths(dataset).tolist(),
                global_batch_size=self.get_total_train_batch_size(self.args),
                seed=self.args.data_seed if self.args.data_seed is not None else self.args.seed,
                current_epoch=lambda: int(self.state.epoch or 0),
            )
        else:
            sampler = super()._get_train_sampler(train_dataset)
        if self.args.device.type == "xla" and sampler is not None:
            return WholeBatchesSampler(sampler, self.args.train_batch_size * self.args.world_size)
        return sampler

    def _evaluation_order(self, dataset: Dataset) -> np.ndarray | None:
        """Longest reviews first, instead of Trainer's shuffled length groups: padding is minimal and
        the order is known, so `predict` can put its outputs back. Otherwise dataset order on XLA,
        whose filler rows `predict` must cut off, and None (Trainer's order) elsewhere."""
        if self.args.train_sampling_strategy == "group_by_length":
            return longest_first(token_lengths(dataset))
        if self.args.device.type == "xla":
            return np.arange(len(dataset))
        return None

    def _get_eval_sampler(self, eval_dataset: Dataset) -> Sampler | None:
        if isinstance(eval_dataset, WholeBatchesDataset):
            return OrderSampler(eval_dataset.order)
        order = self._evaluation_order(eval_dataset)
        return super()._get_eval_sampler(eval_dataset) if order is None else OrderSampler(order)

    def _get_dataloader(
        self,
        dataset: Dataset,
        description: str,
        batch_size: int,
        sampler_fn: Callable[[Dataset], Sampler] | None = None,
        is_training: bool = False,
        dataloader_key: str | None = None,
    ) -> DataLoader:
        """On XLA, evaluation and prediction in whole global batches: a smaller last batch would be
        one more compiled graph for the forward pass and each gather (see `WholeBatchesDataset`)."""
        if self.args.device.type == "xla" and not is_training:
            global_batch_size = batch_size * self.args.world_size
            dataset = WholeBatchesDataset(dataset, self._evaluation_order(dataset), global_batch_size)
        return super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, dataloader_key)

    def predict(self, test_dataset: Dataset, *args, **kwargs) -> PredictionOutput:
        """Predictions and labels in `test_dataset`'s order, however evaluation batched them."""
        output = super().predict(test_dataset, *args, **kwargs)
        order = self._evaluation_order(test_dataset)
        if order is None:
            return output
        return output._replace(
            predictions=in_original_order(output.predictions, order),
            label_ids=in_original_order(output.label_ids, order),
        )

    def set_initial_training_values(self, args: TrainingArguments, dataloader: DataLoader) -> tuple:
        """Remember Trainer's own count of optimizer steps per epoch: the schedule decays on it."""
        values = super().set_initial_training_values(args, dataloader)
        self.num_update_steps_per_epoch = values[1]
        return values

    def create_optimizer(self, model=None) -> Optimizer:
        if self.optimizer is None:
            self.optimizer = create_optimizer(
                model if model is not None else self.model,
                learning_rate=self.args.learning_rate,
                weight_decay=self.args.weight_decay,
                device_type=self.args.device.type,
            )
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: Optimizer | None = None) -> LRScheduler:
        if self.lr_scheduler is None:
            self.lr_scheduler = per_epoch_decay(
                optimizer if optimizer is not None else self.optimizer,
                gamma=self.args.lr_decay_gamma,
                steps_per_epoch=self.num_update_steps_per_epoch,
            )
        return self.lr_scheduler

    def evaluation_loop(
        self,
        dataloader: DataLoader,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> EvalLoopOutput:
        """The loss as the mean over every example, not Trainer's mean over batches (see `mean_cross_entropy`).

        On XLA each batch's gathered outputs are copied to the host at once: Trainer would concatenate
        them on the device, a new shape (and compiled graph) at every batch.
        """
        if self.args.device.type == "xla":
            # Trainer sets gather_for_metrics back after every loop.
            self.gather_function = partial(gather_to_host, self.accelerator.gather_for_metrics)
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if output.predictions is not None and output.label_ids is not None:
            output.metrics[f"{metric_key_prefix}_loss"] = mean_cross_entropy(output.predictions, output.label_ids)
        return output

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """On XLA every log line carries the number of graphs compiled so far: once every batch shape
        has been seen (the first epoch) it must stop growing, or each step is paying for a compilation."""
        if self.args.device.type == "xla":
            logs["xla_compilations"] = xla_compilations()
        super().log(logs, start_time)


# transformers' SDPA attention, registered under this name with a mask that is always built.
SDPA_WITH_MASK = "sdpa_with_mask"


def sdpa_mask_always_built(*args, **kwargs) -> torch.Tensor | None:
    """transformers' SDPA mask, built even for a batch without padding: finding that out reads the
    mask on the host in every forward pass, which on XLA waits for the device, compiles one more
    graph per shape, and gives a batch without padding a graph of its own."""
    return sdpa_mask(*args, **{**kwargs, "allow_is_bidirectional_skip": False, "allow_is_causal_skip": False})


def use_sdpa_with_mask(model: PreTrainedModel) -> None:
    """Switch the model's attention to `SDPA_WITH_MASK`: the same results as SDPA (or eager, its
    only alternative on XLA); the saved config does not record it, so the model loads with plain
    SDPA elsewhere."""
    AttentionInterface.register(SDPA_WITH_MASK, sdpa_attention_forward)
    AttentionMaskInterface.register(SDPA_WITH_MASK, sdpa_mask_always_built)
    model.set_attn_implementation(SDPA_WITH_MASK)


def gather_to_host(gather: Callable[[Any], Any], tensors: Any) -> Any:
    """`gather(tensors)` copied to the CPU: accelerate's XLA gather has just materialized them, so
    the copy compiles nothing."""
    return send_to_device(gather(tensors), "cpu")


def xla_compilations() -> int:
    """How many graphs XLA compiled in this process so far (torch_xla's CompileTime metric).

    torch_xla is imported here, not at the top: it is installed only where there is an XLA device.
    """
    import torch_xla.debug.metrics as metrics

    data = metrics.metric_data("CompileTime")
    return data[0] if data else 0
