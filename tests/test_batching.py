"""Batches compute real tokens, not padding: length-grouped on CPU/GPU, a few fixed shapes on XLA.

The trainers here hold the tiny random-init BERT and NSMC-mini; no training step is taken, only
batches are built and predictions made.
"""

import numpy as np
import pytest
from datasets import DatasetDict
from transformers import AutoModelForSequenceClassification, AutoTokenizer, EvalPrediction, set_seed

from conftest import NSMC_MINI, TINY_MODEL, require
from nsmc_trainer.batching import (
    BucketPaddingCollator,
    WholeBatchesDataset,
    WholeBatchesSampler,
    choose_buckets,
    in_original_order,
    longest_first,
    make_collator,
    token_efficiency,
    token_lengths,
)
from nsmc_trainer.config import DataArguments, NsmcTrainingArguments
from nsmc_trainer.data import load_nsmc
from nsmc_trainer.features import tokenize_corpus
from nsmc_trainer.metrics import IGNORED_LABEL, compute_metrics, mean_cross_entropy
from nsmc_trainer.trainer import NsmcTrainer


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(require(TINY_MODEL))


@pytest.fixture(scope="module")
def corpus() -> DatasetDict:
    return load_nsmc(require(NSMC_MINI))


@pytest.fixture(scope="module")
def features(corpus, tokenizer, tmp_path_factory) -> DatasetDict:
    return tokenize_corpus(corpus, tokenizer, max_seq_length=128, cache_dir=tmp_path_factory.mktemp("features"))


def cpu_arguments(tmp_path, **flags) -> NsmcTrainingArguments:
    return NsmcTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, **flags)


def make_trainer(tokenizer, features, tmp_path, **flags) -> NsmcTrainer:
    args = cpu_arguments(tmp_path, **flags)
    set_seed(args.seed)  # the same classification head in every trainer
    return NsmcTrainer(
        model=AutoModelForSequenceClassification.from_pretrained(TINY_MODEL, num_labels=2),
        args=args,
        train_dataset=features["train"],
        eval_dataset=features["test"],
        processing_class=tokenizer,
        data_collator=make_collator(tokenizer, DataArguments(), args, features["train"]),
    )


def real_token_share(batches) -> float:
    masks = [batch["attention_mask"] for batch in batches]
    return sum(int(mask.sum()) for mask in masks) / sum(mask.numel() for mask in masks)


def test_default_training_batches_group_reviews_of_similar_length(tokenizer, features, tmp_path):
    batches = list(make_trainer(tokenizer, features, tmp_path).get_train_dataloader())
    assert sum(len(batch["labels"]) for batch in batches) == len(features["train"])
    # 2,000 reviews make only 4 length groups; the full 150K make 94 and reach 95% (BENCHMARKS.md).
    assert real_token_share(batches) >= 0.8

    ratsnlp_order = make_trainer(tokenizer, features, tmp_path, train_sampling_strategy="random")
    assert real_token_share(list(ratsnlp_order.get_train_dataloader())) < 0.5


def test_evaluation_runs_longest_first_and_predict_keeps_dataset_order(tokenizer, features, tmp_path):
    trainer = make_trainer(tokenizer, features, tmp_path)
    widths = [batch["input_ids"].shape[1] for batch in trainer.get_eval_dataloader()]
    assert widths == sorted(widths, reverse=True)

    grouped = trainer.predict(features["test"])
    in_order = make_trainer(tokenizer, features, tmp_path, train_sampling_strategy="sequential")
    sequential = in_order.predict(features["test"])
    assert grouped.label_ids.tolist() == features["test"]["label"]
    np.testing.assert_allclose(grouped.predictions, sequential.predictions, atol=1e-5)
    assert grouped.metrics["test_loss"] == pytest.approx(sequential.metrics["test_loss"], rel=1e-3)


def test_pad_to_max_length_pads_every_review_to_128_as_ratsnlp(corpus, tokenizer, features, tmp_path):
    args = cpu_arguments(tmp_path)
    reviews = [features["train"].remove_columns(["id"])[index] for index in range(8)]
    dynamic = make_collator(tokenizer, DataArguments(), args, features["train"])(reviews)
    assert dynamic["input_ids"].shape == (8, max(len(review["input_ids"]) for review in reviews))

    padded = tokenize_corpus(corpus, tokenizer, 128, cache_dir=tmp_path, pad_to_max_length=True)
    static_reviews = [padded["train"].remove_columns(["id"])[index] for index in range(8)]
    static = make_collator(tokenizer, DataArguments(pad_to_max_length=True), args, padded["train"])(static_reviews)
    assert static["input_ids"].shape == (8, 128)
    assert static["labels"].tolist() == dynamic["labels"].tolist()


def test_xla_buckets_bound_the_shapes_and_keep_most_tokens_real(tokenizer, features):
    lengths = token_lengths(features["train"])
    buckets = choose_buckets(lengths, max_length=128)
    assert len(buckets) <= 4 and buckets[-1] == 128
    assert all(length % 8 == 0 for length in buckets)

    grouped = np.argsort(lengths)
    assert token_efficiency(lengths, grouped, 32, buckets) >= 0.6
    assert token_efficiency(lengths, grouped, 32, buckets) > 2 * token_efficiency(lengths, grouped, 32, (128,))

    collate = BucketPaddingCollator(tokenizer, buckets)
    reviews = features["train"].remove_columns(["id"])
    shapes = {
        tuple(collate([reviews[int(index)] for index in grouped[start : start + 32]])["input_ids"].shape)
        for start in range(0, len(grouped) - 31, 32)
    }
    assert shapes <= {(32, length) for length in buckets}


def test_token_efficiency_is_real_over_computed_tokens():
    lengths = np.array([1, 3, 2, 2])
    assert token_efficiency(lengths, [0, 1, 2, 3], batch_size=2) == 8 / (2 * 3 + 2 * 2)
    assert token_efficiency(lengths, [0, 1, 2, 3], batch_size=2, buckets=(2, 4)) == 8 / (2 * 4 + 2 * 2)
    assert token_efficiency(lengths, [0, 1, 2, 3], batch_size=2, buckets=(4,)) == 8 / 16


def test_xla_training_stops_before_the_last_partial_batch():
    sampler = WholeBatchesSampler(range(70), batch_size=32)
    assert list(sampler) == list(range(64)) and len(sampler) == 64


def test_xla_evaluation_runs_whole_batches_whose_filler_rows_count_nowhere(features):
    reviews = features["test"]
    order = longest_first(token_lengths(reviews))
    whole = WholeBatchesDataset(reviews, order, global_batch_size=32)
    assert len(whole) == 512 and len(reviews) == 500
    assert whole.order[:500].tolist() == order.tolist() and whole.order[500:].tolist() == list(range(500, 512))
    shortest = reviews[int(order[-1])]
    assert all(whole[index]["input_ids"] == shortest["input_ids"] for index in range(500, 512))
    assert {whole[index]["label"] for index in range(500, 512)} == {IGNORED_LABEL}

    # Outputs in sampler order, right for every real review: counted, the filler rows would lower accuracy.
    labels = np.array([whole[int(index)]["label"] for index in whole.order])
    logits = 5 * np.eye(2)[np.where(labels == IGNORED_LABEL, 0, labels)]
    assert compute_metrics(EvalPrediction(predictions=logits, label_ids=labels))["accuracy"] == 1.0
    assert mean_cross_entropy(logits, labels) == pytest.approx(mean_cross_entropy(logits[:500], labels[:500]))
    assert in_original_order(labels, order).tolist() == reviews["label"]
