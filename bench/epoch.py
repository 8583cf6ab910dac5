"""One full epoch of the tiny BERT on the full NSMC train set (150K), then accuracy on the 50K test set.

    python bench/epoch.py [--output_dir DIR] [-- extra nsmc-train flags, e.g. --learning_rate 1e-3]

Runs `nsmc-train` in this process with its default settings except `--num_train_epochs 1`, the
tiny model and the local NSMC files; flags after the script's own are passed on to `nsmc-train`.
Prints one JSON line: wall time (tokenization from cache included), Trainer's train runtime and
samples/s, and the test metrics.
"""

import argparse
from pathlib import Path

from common import (
    NSMC,
    OUTPUT_ROOT,
    TINY_MODEL,
    add_threads_flag,
    machine,
    run_and_emit,
    run_nsmc_train,
    set_threads,
)


def parse_args() -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=NSMC)
    parser.add_argument("--model_name_or_path", type=Path, default=TINY_MODEL)
    parser.add_argument("--output_dir", type=Path, default=OUTPUT_ROOT / "epoch")
    parser.add_argument("--features_cache_dir", type=Path, default=OUTPUT_ROOT / "features")
    add_threads_flag(parser)
    return parser.parse_known_args()


def measure(args: argparse.Namespace, extra_flags: list[str]) -> dict:
    set_threads(args.torch_threads)
    wall_s, results = run_nsmc_train(
        args.model_name_or_path, args.data_dir, args.output_dir, args.features_cache_dir, extra_flags
    )
    return {
        "benchmark": "epoch",
        "flags": extra_flags,
        "wall_s": round(wall_s, 1),
        "train_runtime_s": results["train_runtime"],
        "train_samples_per_second": results["train_samples_per_second"],
        "test_accuracy": results["eval_accuracy"],
        "test_f1": results["eval_f1"],
        "test_loss": results["eval_loss"],
        "train_samples": results["train_samples"],
        "eval_samples": results["eval_samples"],
        "torch_threads": args.torch_threads,
        **machine(),
    }


def main() -> None:
    args, extra_flags = parse_args()
    run_and_emit(lambda: measure(args, extra_flags))


if __name__ == "__main__":
    main()
