"""The pipeline, step by step as in the ratsnlp notebook: settings -> seed -> corpus -> tokenizer ->
features -> model -> Trainer -> fit -> save -> evaluate -> learning curves -> model card (and push)."""

import logging
from pathlib import Path

from transformers import set_seed

from .batching import make_collator
from .checkpoints import check_output_dir, prepare_output_dir, save_model_atomically
from .config import (
    LABEL_COLUMN,
    DataArguments,
    ModelArguments,
    NsmcTrainingArguments,
    apply_book_exact,
    apply_device_defaults,
)
from .console import (
    WeightsChecksumCallback,
    describe_result,
    describe_setup,
    lines_above_the_bar,
    setup_logging,
    use_console_callbacks,
)
from .curves import write_training_curves
from .data import evaluation_split, load_corpus
from .evaluation import evaluate_final_model
from .features import log_examples, tokenize_corpus
from .hub import check_push_access, push_output_dir, take_push_request
from .interrupts import checkpoint_on_signals
from .metrics import compute_metrics
from .model import load_model, load_tokenizer
from .model_card import evaluated_data, hyperparameters_from_args, write_model_card
from .trainer import NsmcTrainer

logger = logging.getLogger(__name__)


def train(model_args: ModelArguments, data_args: DataArguments, training_args: NsmcTrainingArguments) -> dict:
    """Fine-tune, save the best model into `output_dir` and return the final evaluation metrics."""
    apply_book_exact(data_args, training_args)
    apply_device_defaults(training_args)
    setup_logging(training_args)
    logger.debug("Training arguments %s", training_args)
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
    label_names = corpus["train"].features[LABEL_COLUMN].names
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
    use_console_callbacks(trainer)

    with checkpoint_on_signals(trainer), lines_above_the_bar():
        train_result = trainer.train(resume_from_checkpoint=prepare_output_dir(training_args))
    save_model_atomically(trainer)
    train_metrics = dict(train_result.metrics, train_samples=len(features["train"]))
    trainer.save_metrics("train", train_metrics)
    trainer.save_state()

    eval_metrics = evaluate_final_model(trainer, corpus, features, eval_split)

    # The curves and the card are written on every run, so that a later `nsmc-push` has them too.
    if trainer.is_world_process_zero():
        best_metric = training_args.metric_for_best_model or "eval_loss"
        write_training_curves(training_args.output_dir, best_metric, bool(training_args.greater_is_better))
        write_model_card(
            training_args.output_dir,
            base_model=model_args.model_name_or_path,
            hyperparameters=hyperparameters_from_args(training_args, data_args.max_seq_length),
            hub_model_id=push_request.hub_model_id if push_request else None,
            evaluated=evaluated_data(data_args, eval_split),
            metric_for_best_model=best_metric,
            greater_is_better=bool(training_args.greater_is_better),
        )
        if push_request is not None:
            url = push_output_dir(
                training_args.output_dir, push_request.hub_model_id, token=push_request.token, private=push_request.private
            )
            logger.info("Pushed the model to %s", url)
        pushed_to = push_request.hub_model_id if push_request else None
        logger.info(
            "%s", describe_result(training_args.output_dir, eval_metrics, trainer.state, training_args, eval_split, pushed_to)
        )
    return eval_metrics

