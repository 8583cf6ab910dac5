"""Assemble corpus, features, model, optimizer and schedule into an HF Trainer, run it, save results.

The steps mirror the ratsnlp notebook: settings -> seed -> corpus -> tokenizer -> features ->
model -> task (optimizer + schedule) -> trainer -> fit, with Trainer doing the loop, evaluation
once per epoch and keeping the checkpoint with the lowest eval_loss.
"""

import logging
import sys
from pathlib import Path

import datasets
import transformers
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader
from transformers import (
    DataCollatorWithPadding,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
    default_data_collator,
    set_seed,
)

from .config import DataArguments, ModelArguments, NsmcTrainingArguments
from .data import load_corpus
from .features import log_examples, tokenize_corpus
from .metrics import compute_metrics
from .model import load_model, load_tokenizer
from .schedule import PerEpochExponentialLR, create_optimizer

logger = logging.getLogger(__name__)


class NsmcTrainer(Trainer):
    """Trainer with ratsnlp's AdamW and per-epoch ExponentialLR instead of linear warmup/decay."""

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


def make_collator(tokenizer: PreTrainedTokenizerBase, data_args: DataArguments, training_args: TrainingArguments):
    """Pad each batch to its own longest review; multiples of 8 feed tensor cores on GPUs."""
    if data_args.pad_to_max_length:
        return default_data_collator
    pad_to_multiple_of = 8 if training_args.device.type == "cuda" else None
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)


def train(model_args: ModelArguments, data_args: DataArguments, training_args: NsmcTrainingArguments) -> dict:
    """Fine-tune, save the best model into `output_dir` and return the final evaluation metrics."""
    setup_logging(training_args)
    logger.info("Training arguments %s", training_args)
    set_seed(training_args.seed)

    corpus = load_corpus(data_args)
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
        eval_dataset=features["test"],
        processing_class=tokenizer,
        data_collator=make_collator(tokenizer, data_args, training_args),
        compute_metrics=compute_metrics,
    )

    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()
    train_metrics = dict(train_result.metrics, train_samples=len(features["train"]))
    trainer.log_metrics("train", train_metrics)
    trainer.save_metrics("train", train_metrics)
    trainer.save_state()

    eval_metrics = dict(trainer.evaluate(), eval_samples=len(features["test"]))
    trainer.log_metrics("eval", eval_metrics)
    trainer.save_metrics("eval", eval_metrics)
    return eval_metrics
