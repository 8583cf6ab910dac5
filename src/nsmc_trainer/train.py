"""Assemble corpus, features, model, optimizer and schedule into an HF Trainer, run it, save results.

The steps mirror the ratsnlp notebook: settings -> seed -> corpus -> tokenizer -> features ->
model -> task (optimizer + schedule) -> trainer -> fit, with Trainer doing the loop, evaluation
once per epoch and keeping the checkpoint with the lowest eval_loss.
"""

import csv
import logging
import sys
from pathlib import Path

import datasets
import numpy as np
import torch
import transformers
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader, Dataset, Sampler
from transformers import Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import EvalLoopOutput, PredictionOutput

from .batching import (
    OrderSampler,
    WholeBatchesSampler,
    in_original_order,
    longest_first,
    make_collator,
    token_lengths,
)
from .checkpoints import (
    ResumableCheckpoints,
    check_output_dir,
    checkpoint_on_signals,
    prepare_output_dir,
    save_model_atomically,
)
from .config import DataArguments, ModelArguments, NsmcTrainingArguments
from .data import evaluation_split, has_labels, load_corpus
from .features import log_examples, tokenize_corpus
from .hub import (
    PushRequest,
    check_push_access,
    hyperparameters_from_args,
    push_output_dir,
    take_push_request,
    write_model_card,
)
from .metrics import compute_metrics
from .model import load_model, load_tokenizer
from .parallel import (
    GlobalLengthGroupedSampler,
    WeightsChecksumCallback,
    describe_setup,
    mean_cross_entropy,
    xla_compilations,
)
from .schedule import PerEpochExponentialLR, create_optimizer

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.tsv"


class NsmcTrainer(ResumableCheckpoints, Trainer):
    """Trainer with ratsnlp's AdamW and per-epoch ExponentialLR instead of linear warmup/decay.

    With `train_sampling_strategy="group_by_length"` it also batches reviews of similar length for
    evaluation and prediction, and reads lengths from the token ids' Arrow column: Trainer drops the
    `length` column before it builds the sampler and would then count every example in Python.
    """

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
        the order is known, so `predict` can put its outputs back. None keeps Trainer's order."""
        if self.args.train_sampling_strategy != "group_by_length":
            return None
        return longest_first(token_lengths(dataset))

    def _get_eval_sampler(self, eval_dataset: Dataset) -> Sampler | None:
        order = self._evaluation_order(eval_dataset)
        return super()._get_eval_sampler(eval_dataset) if order is None else OrderSampler(order)

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
            self.lr_scheduler = PerEpochExponentialLR(
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
        """The loss as the mean over every example, not Trainer's mean over batches (see `mean_cross_entropy`)."""
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


def train(model_args: ModelArguments, data_args: DataArguments, training_args: NsmcTrainingArguments) -> dict:
    """Fine-tune, save the best model into `output_dir` and return the final evaluation metrics."""
    setup_logging(training_args)
    logger.info("Training arguments %s", training_args)
    logger.info("%s", describe_setup(training_args))
    check_output_dir(training_args)
    push_request = take_push_request(training_args)
    if push_request is not None:
        check_push_access(push_request)
    set_seed(training_args.seed)

    # The main process downloads, reads and tokenizes into the caches first; the others then reuse them.
    with training_args.main_process_first(desc="reading the data"):
        corpus = load_corpus(data_args)
    eval_split = evaluation_split(corpus)
    label_names = corpus["train"].features["label"].names
    tokenizer = load_tokenizer(model_args)
    with training_args.main_process_first(desc="tokenization"):
        features = tokenize_corpus(
            corpus,
            tokenizer,
            data_args.max_seq_length,
            cache_dir=Path(data_args.features_cache_dir) if data_args.features_cache_dir else None,
            pad_to_max_length=data_args.pad_to_max_length,
            overwrite_cache=data_args.overwrite_cache,
            num_proc=data_args.preprocessing_num_workers,
        )
    log_examples(corpus, features, tokenizer)

    model = load_model(model_args, label_names)
    trainer = NsmcTrainer(
        model=model,
        args=training_args,
        train_dataset=features["train"],
        eval_dataset=features[eval_split],
        processing_class=tokenizer,
        data_collator=make_collator(tokenizer, data_args, training_args, features["train"]),
        compute_metrics=compute_metrics,
        callbacks=[WeightsChecksumCallback()],
    )

    with checkpoint_on_signals(trainer):
        train_result = trainer.train(resume_from_checkpoint=prepare_output_dir(training_args))
    save_model_atomically(trainer)
    train_metrics = dict(train_result.metrics, train_samples=len(features["train"]))
    trainer.log_metrics("train", train_metrics)
    trainer.save_metrics("train", train_metrics)
    trainer.save_state()

    eval_metrics = dict(trainer.evaluate(), eval_samples=len(features[eval_split]))
    trainer.log_metrics("eval", eval_metrics)
    trainer.save_metrics("eval", eval_metrics)

    if "test" in corpus and eval_split != "test":
        if has_labels(corpus["test"]):
            test_metrics = trainer.evaluate(features["test"], metric_key_prefix="test")
            trainer.log_metrics("test", test_metrics)
            trainer.save_metrics("test", test_metrics)
        else:
            write_predictions(trainer, features["test"], Path(training_args.output_dir) / PREDICTIONS_FILE)
    if trainer.is_world_process_zero():
        publish(training_args.output_dir, model_args, data_args, training_args, push_request)
    return eval_metrics


def publish(
    output_dir: str,
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: NsmcTrainingArguments,
    push_request: PushRequest | None,
) -> None:
    """Write the model card on every run, so a later `nsmc-push` has it too, then push if asked."""
    write_model_card(
        output_dir,
        base_model=model_args.model_name_or_path,
        hyperparameters=hyperparameters_from_args(training_args, data_args.max_seq_length),
        hub_model_id=push_request.hub_model_id if push_request else None,
    )
    if push_request is not None:
        url = push_output_dir(
            output_dir, push_request.hub_model_id, token=push_request.token, private=push_request.private
        )
        logger.info("Pushed the model to %s", url)


def write_predictions(trainer: Trainer, features: datasets.Dataset, path: Path) -> None:
    """Label a prediction-only test split; its ids (or line numbers) join the labels back to the rows."""
    logits = trainer.predict(features.remove_columns("label")).predictions
    scores, classes = torch.softmax(torch.as_tensor(logits), dim=-1).max(dim=-1)
    if not trainer.is_world_process_zero():
        return
    id2label = trainer.model.config.id2label
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "label", "score"])
        for row_id, label, score in zip(features["id"], classes.tolist(), scores.tolist()):
            writer.writerow([row_id, id2label[label], f"{score:.4f}"])
    logger.info("Wrote %d predictions to %s", len(features), path)
