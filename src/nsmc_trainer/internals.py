"""Every non-public transformers/datasets API this package touches, and why; tests/test_internals.py
checks that each still exists with the parameters we rely on, so that an upgrade fails in CI."""

from dataclasses import dataclass

import datasets
from transformers import Trainer


@dataclass(frozen=True)
class PrivateApi:
    owner: type
    name: str
    parameters: tuple[str, ...]  # the leading parameters we pass, in order; () for an attribute
    why: str


PRIVATE_APIS = (
    PrivateApi(
        Trainer,
        "_get_train_sampler",
        ("self", "train_dataset"),
        "trainer.NsmcTrainer: length grouping that every process draws alike, whole batches on XLA; "
        "Trainer has no public hook for the sampler",
    ),
    PrivateApi(
        Trainer,
        "_get_eval_sampler",
        ("self", "eval_dataset"),
        "trainer.NsmcTrainer: evaluation longest first, so predict can restore the order",
    ),
    PrivateApi(
        Trainer,
        "_get_dataloader",
        ("self", "dataset", "description", "batch_size", "sampler_fn", "is_training", "dataloader_key"),
        "trainer.NsmcTrainer: on XLA, evaluation and prediction sets completed to whole global batches",
    ),
    PrivateApi(
        Trainer,
        "_get_output_dir",
        ("self", "trial"),
        "checkpoints.ResumableCheckpoints: a checkpoint is written into a hidden staging directory",
    ),
    PrivateApi(
        Trainer,
        "_save_checkpoint",
        ("self", "model", "trial"),
        "checkpoints.ResumableCheckpoints: the staged checkpoint is renamed into place when complete",
    ),
    PrivateApi(
        Trainer,
        "set_initial_training_values",
        ("self", "args", "dataloader"),
        "trainer.NsmcTrainer: its second value, optimizer steps per epoch, is the schedule's step size",
    ),
    PrivateApi(
        Trainer,
        "evaluation_loop",
        ("self", "dataloader", "description", "prediction_loss_only", "ignore_keys", "metric_key_prefix"),
        "trainer.NsmcTrainer: eval_loss recomputed per example from the gathered logits; on XLA its "
        "gather_function (an attribute Trainer resets after the loop) copies each batch to the host",
    ),
    PrivateApi(
        Trainer,
        "_inner_training_loop",
        ("self",),
        "console.only_training_summary: the one method whose INFO lines (the \"Running training\" block) "
        "the default console shows",
    ),
    PrivateApi(
        datasets.Dataset,
        "_fingerprint",
        (),
        "features.features_fingerprint: the split's data, as datasets itself fingerprints it",
    ),
)
