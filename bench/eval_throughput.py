"""Evaluation throughput over the 50K NSMC test set: ratsnlp's padding against ours.

    python bench/eval_throughput.py [--model_name_or_path DIR] [--rounds 3]

Schemes, measured round-robin in one process (each figure the median over rounds):

- pad_to_128:          every review padded to 128, dataset order (ratsnlp)
- dynamic_sequential:  each batch padded to its longest review, dataset order
- length_sorted:       the default: longest reviews first, each batch padded to its longest

The model defaults to the one `bench/epoch.py` trained (else the untrained tiny BERT), so the
accuracies are meaningful; they must agree across schemes, and `predictions_agree` checks that
`predict` returns the sorted scheme's predictions in dataset order. Prints one JSON line.
"""

import argparse
import statistics
import time
from pathlib import Path

from common import NSMC, OUTPUT_ROOT, TINY_MODEL, add_threads_flag, machine, run_and_emit, set_threads

SCHEMES = {
    "pad_to_128": {"pad_to_max_length": True, "train_sampling_strategy": "random"},
    "dynamic_sequential": {"pad_to_max_length": False, "train_sampling_strategy": "random"},
    "length_sorted": {"pad_to_max_length": False, "train_sampling_strategy": "group_by_length"},
}
TRAINED_MODEL = OUTPUT_ROOT / "epoch-default"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=NSMC)
    parser.add_argument(
        "--model_name_or_path",
        type=Path,
        default=TRAINED_MODEL if (TRAINED_MODEL / "model.safetensors").is_file() else TINY_MODEL,
    )
    parser.add_argument("--features_cache_dir", type=Path, default=OUTPUT_ROOT / "features")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_seq_length", type=int, default=128)
    add_threads_flag(parser)
    return parser.parse_args()


def measure(args: argparse.Namespace) -> dict:
    import datasets
    import numpy as np
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from nsmc_trainer.batching import make_collator
    from nsmc_trainer.config import DataArguments, NsmcTrainingArguments
    from nsmc_trainer.data import load_corpus
    from nsmc_trainer.features import tokenize_corpus
    from nsmc_trainer.metrics import compute_metrics
    from nsmc_trainer.trainer import NsmcTrainer

    set_threads(args.torch_threads)
    datasets.disable_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_name_or_path)
    corpus = load_corpus(DataArguments(data_dir=str(args.data_dir), features_cache_dir=str(args.features_cache_dir)))
    features = {
        padded: tokenize_corpus(
            corpus, tokenizer, args.max_seq_length, cache_dir=args.features_cache_dir, pad_to_max_length=padded
        )
        for padded in (False, True)
    }

    def make_trainer(scheme: dict) -> NsmcTrainer:
        data_args = DataArguments(pad_to_max_length=scheme["pad_to_max_length"], max_seq_length=args.max_seq_length)
        training_args = NsmcTrainingArguments(
            output_dir=str(OUTPUT_ROOT / "eval-throughput"),
            train_sampling_strategy=scheme["train_sampling_strategy"],
            per_device_eval_batch_size=args.batch_size,
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
        )
        split = features[scheme["pad_to_max_length"]]
        return NsmcTrainer(
            model=model,
            args=training_args,
            eval_dataset=split["test"],
            processing_class=tokenizer,
            data_collator=make_collator(tokenizer, data_args, training_args, split["train"]),
            compute_metrics=compute_metrics,
        )

    trainers = {name: make_trainer(scheme) for name, scheme in SCHEMES.items()}
    samples_per_second: dict[str, list[float]] = {name: [] for name in SCHEMES}
    accuracy = {}
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            metrics = trainer.evaluate()
            samples_per_second[name].append(len(features[False]["test"]) / (time.perf_counter() - start))
            accuracy[name] = metrics["eval_accuracy"]

    sorted_predictions = trainers["length_sorted"].predict(features[False]["test"]).predictions
    sequential_predictions = trainers["dynamic_sequential"].predict(features[False]["test"]).predictions
    medians = {name: statistics.median(values) for name, values in samples_per_second.items()}
    return {
        "benchmark": "eval_throughput",
        "model": str(args.model_name_or_path),
        "eval_samples": len(features[False]["test"]),
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "samples_per_second": {name: round(value, 1) for name, value in medians.items()},
        "samples_per_second_all_rounds": {
            name: [round(value, 1) for value in values] for name, values in samples_per_second.items()
        },
        "speedup_length_sorted_vs_pad_to_128": round(medians["length_sorted"] / medians["pad_to_128"], 2),
        "accuracy": accuracy,
        "predictions_agree": float(
            np.mean(sorted_predictions.argmax(-1) == sequential_predictions.argmax(-1))
        ),
        "max_abs_logit_difference": float(np.abs(sorted_predictions - sequential_predictions).max()),
        "torch_threads": args.torch_threads,
        **machine(),
    }


def main() -> None:
    args = parse_args()
    run_and_emit(lambda: measure(args))


if __name__ == "__main__":
    main()
