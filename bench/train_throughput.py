"""Training throughput of the tiny BERT on the full NSMC train set: ratsnlp's padding against ours.

    python bench/train_throughput.py [--steps 100] [--rounds 3]

Schemes, measured side by side in one process, round-robin (`--rounds`), so that a busy machine
slows them alike; each figure is the median over rounds:

- pad_to_128:      `--pad_to_max_length --train_sampling_strategy random` (ratsnlp)
- dynamic_random:  `--train_sampling_strategy random` (each batch padded to its longest review)
- length_grouped:  the default (`group_by_length`)

Samples/s are given per wall second and per CPU second of this process: on a busy machine the
latter measures the work itself (use `--torch_threads 1`, so that threads do not spin). They count
the steps after the first (see `common.step_clock`); every round trains on the same batches.

Token efficiency (real tokens / computed tokens) comes from a full epoch of the batches each
scheme's sampler really yields, as does the XLA scheme's: length-grouped batches, the last partial
one dropped, padded up to `choose_buckets`' lengths. `sampler_build_s` compares the time to build
the length-grouped sampler: ours reads lengths from Arrow, Trainer's own counts them example by
example (skip with `--skip_stock_sampler`). Prints one JSON line.
"""

import argparse
import statistics
import time
from pathlib import Path

from common import (
    NSMC,
    OUTPUT_ROOT,
    TINY_MODEL,
    add_threads_flag,
    load_train_features,
    machine,
    make_trainer,
    run_and_emit,
    set_threads,
    time_training,
)
from common import TRAIN_SCHEMES as SCHEMES


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=NSMC)
    parser.add_argument("--model_name_or_path", type=Path, default=TINY_MODEL)
    parser.add_argument("--features_cache_dir", type=Path, default=OUTPUT_ROOT / "features")
    parser.add_argument("--steps", type=int, default=100, help="Optimizer steps per scheme and round.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--skip_stock_sampler", action="store_true")
    add_threads_flag(parser)
    return parser.parse_args()


def measure(args: argparse.Namespace) -> dict:
    import numpy as np
    from transformers import AutoModelForSequenceClassification, Trainer

    from nsmc_trainer.batching import WholeBatchesSampler, choose_buckets, padded_lengths, token_efficiency, token_lengths
    from nsmc_trainer.trainer import NsmcTrainer

    set_threads(args.torch_threads)
    tokenizer, features = load_train_features(
        args.data_dir, args.model_name_or_path, args.features_cache_dir, args.max_seq_length
    )
    lengths = token_lengths(features[False])

    def new_trainer(scheme: str, max_steps: int) -> NsmcTrainer:
        return make_trainer(
            lambda: AutoModelForSequenceClassification.from_pretrained(args.model_name_or_path, num_labels=2),
            tokenizer,
            features,
            scheme,
            max_steps,
            args.max_seq_length,
            per_device_train_batch_size=args.batch_size,
            use_cpu=True,
        )

    samples_per_second, samples_per_cpu_second = time_training(
        lambda scheme, _round: new_trainer(scheme, args.steps), list(SCHEMES), args.rounds
    )

    def epoch_order(scheme: str) -> np.ndarray:
        """The example order of one epoch, from the sampler Trainer would use."""
        trainer = new_trainer(scheme, 1)
        return np.fromiter(trainer._get_train_sampler(), dtype=np.int64)

    orders = {name: epoch_order(name) for name in SCHEMES}
    buckets = choose_buckets(lengths, args.max_seq_length)
    xla_order = np.fromiter(WholeBatchesSampler(orders["length_grouped"], args.batch_size), dtype=np.int64)
    xla_batch_longest = np.maximum.reduceat(lengths[xla_order], np.arange(0, len(xla_order), args.batch_size))
    efficiency = {
        "pad_to_128": token_efficiency(lengths, orders["pad_to_128"], args.batch_size, (args.max_seq_length,)),
        "dynamic_random": token_efficiency(lengths, orders["dynamic_random"], args.batch_size),
        "length_grouped": token_efficiency(lengths, orders["length_grouped"], args.batch_size),
        "xla_buckets": token_efficiency(lengths, xla_order, args.batch_size, buckets),
        "xla_buckets_32_64_128": token_efficiency(lengths, xla_order, args.batch_size, (32, 64, args.max_seq_length)),
    }

    trainer = new_trainer("length_grouped", 1)
    columns_removed = trainer._remove_unused_columns(features[False])
    build_s = {}
    start = time.perf_counter()
    list(trainer._get_train_sampler(columns_removed))
    build_s["ours"] = time.perf_counter() - start
    if not args.skip_stock_sampler:
        start = time.perf_counter()
        list(Trainer._get_train_sampler(trainer, columns_removed))
        build_s["trainer_stock"] = time.perf_counter() - start

    medians = {name: statistics.median(values) for name, values in samples_per_second.items()}
    cpu_medians = {name: statistics.median(values) for name, values in samples_per_cpu_second.items()}
    return {
        "benchmark": "train_throughput",
        "model": args.model_name_or_path.name,
        "batch_size": args.batch_size,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "samples_per_second": {name: round(value, 1) for name, value in medians.items()},
        "samples_per_second_all_rounds": {
            name: [round(value, 1) for value in values] for name, values in samples_per_second.items()
        },
        "speedup_length_grouped_vs_pad_to_128": round(medians["length_grouped"] / medians["pad_to_128"], 2),
        "speedup_dynamic_random_vs_pad_to_128": round(medians["dynamic_random"] / medians["pad_to_128"], 2),
        "speedup_length_grouped_vs_pad_to_128_per_round": [
            round(grouped / padded, 2)
            for grouped, padded in zip(samples_per_second["length_grouped"], samples_per_second["pad_to_128"])
        ],
        "samples_per_cpu_second": {name: round(value, 1) for name, value in cpu_medians.items()},
        "cpu_speedup_length_grouped_vs_pad_to_128": round(
            cpu_medians["length_grouped"] / cpu_medians["pad_to_128"], 2
        ),
        "cpu_speedup_dynamic_random_vs_pad_to_128": round(
            cpu_medians["dynamic_random"] / cpu_medians["pad_to_128"], 2
        ),
        "token_efficiency": {name: round(value, 3) for name, value in efficiency.items()},
        "xla_buckets": list(buckets),
        "xla_shapes_per_epoch": sorted(
            {(args.batch_size, int(length)) for length in padded_lengths(xla_batch_longest, buckets)}
        ),
        "sampler_build_s": {name: round(value, 2) for name, value in build_s.items()},
        "mean_tokens_per_review": round(float(lengths.mean()), 1),
        "max_tokens_per_review": int(lengths.max()),
        "torch_threads": args.torch_threads,
        **machine(),
    }


def main() -> None:
    args = parse_args()
    run_and_emit(lambda: measure(args))


if __name__ == "__main__":
    main()
