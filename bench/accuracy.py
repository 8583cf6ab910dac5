"""Accuracy of one epoch of the tiny BERT in three orders of training batches, side by side.

    python bench/accuracy.py --max_train_samples 16000 --max_eval_samples 2000 [--seeds 7 1]
    python bench/accuracy.py --orders length_grouped dynamic_random      # full 150K / 50K

Orders (the same schemes as bench/train_throughput.py):

- pad_to_128:      `--pad_to_max_length --train_sampling_strategy random` (ratsnlp)
- dynamic_random:  `--train_sampling_strategy random` (each batch padded to its longest review)
- length_grouped:  the default (length-grouped global batches, in shuffled order)

For every learning rate, seed and order, `nsmc-train` runs one epoch in this process with its
defaults otherwise, on the first `--max_train_samples` training reviews, and is evaluated on the
first `--max_eval_samples` test reviews. It neither evaluates nor saves a checkpoint at the end of
the epoch (the final evaluation sees the same model, as there is only one epoch), so that
Trainer's train samples/s counts training alone. On a busy machine wall time varies with the load;
`samples_per_cpu_second` divides the training reviews by this process's CPU seconds for the whole
run (reading and tokenizing from the cache, training, evaluating), which varies far less. One JSON
line per run, printed as it finishes; `bench/accuracy_table.py` makes the table of means.

Two experiments on the default order:

- `--shuffle_first_batch`: does it matter that the default order keeps its longest batch first?
  `shuffle_batches` moves the first batch too; runs named `length_grouped_first_batch_shuffled`.
- `--mega_batch_mult N`: lengths grouped within mega-batches of N batches instead of Trainer's 50,
  so each batch mixes more lengths; runs named `length_grouped_megaN`.
"""

import argparse
import time
from pathlib import Path

from common import (
    NSMC,
    OUTPUT_ROOT,
    TINY_MODEL,
    TRAIN_SCHEMES,
    add_threads_flag,
    machine,
    run_and_emit,
    run_nsmc_train,
    scheme_flags,
    set_threads,
    use_mega_batch_mult,
)

# Trainer's end-of-epoch evaluation and checkpoint would count in its train runtime.
TRAINING_ONLY_FLAGS = ["--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=NSMC)
    parser.add_argument("--model_name_or_path", type=Path, default=TINY_MODEL)
    parser.add_argument("--output_root", type=Path, default=OUTPUT_ROOT / "accuracy")
    parser.add_argument("--features_cache_dir", type=Path, default=OUTPUT_ROOT / "features")
    parser.add_argument("--orders", nargs="+", choices=list(TRAIN_SCHEMES), default=list(TRAIN_SCHEMES))
    parser.add_argument("--learning_rates", nargs="+", default=["5e-5", "1e-3"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[7, 1])
    parser.add_argument("--max_train_samples", type=int, default=None, help="Default: all 150K.")
    parser.add_argument("--max_eval_samples", type=int, default=None, help="Default: all 50K.")
    parser.add_argument("--shuffle_first_batch", action="store_true", help="Experiment; see above.")
    parser.add_argument("--mega_batch_mult", type=int, default=None, help="Experiment; see above.")
    add_threads_flag(parser)
    return parser.parse_args()


def shuffle_all_batches(indices: list[int], batch_size: int, generator) -> list[int]:
    """`nsmc_trainer.batching.shuffle_batches` without keeping the first batch in its place."""
    import torch

    full = len(indices) // batch_size
    order = torch.randperm(full, generator=generator).tolist()
    shuffled = [index for batch in order for index in indices[batch * batch_size : (batch + 1) * batch_size]]
    return shuffled + indices[full * batch_size :]


def data_flags(args: argparse.Namespace) -> list[str]:
    flags = []
    if args.max_train_samples is not None:
        flags += ["--max_train_samples", str(args.max_train_samples)]
    if args.max_eval_samples is not None:
        flags += ["--max_eval_samples", str(args.max_eval_samples)]
    return flags


def order_name(args: argparse.Namespace, order: str) -> str:
    """The order's name, with the experiments that change the default order."""
    if order != "length_grouped":
        return order
    first_batch = "_first_batch_shuffled" if args.shuffle_first_batch else ""
    mega_batch = f"_mega{args.mega_batch_mult}" if args.mega_batch_mult else ""
    return order + first_batch + mega_batch


def measure(args: argparse.Namespace, order: str, learning_rate: str, seed: int) -> dict:
    """One epoch in one order, into its own output directory."""
    name = order_name(args, order)
    output_dir = args.output_root / f"{name}-lr{learning_rate}-seed{seed}-n{args.max_train_samples or 'all'}"
    flags = [
        *scheme_flags(order),
        "--learning_rate", learning_rate,
        "--seed", str(seed),
        *data_flags(args),
        *TRAINING_ONLY_FLAGS,
    ]  # fmt: skip
    cpu_start = time.process_time()
    wall_s, results = run_nsmc_train(
        args.model_name_or_path, args.data_dir, output_dir, args.features_cache_dir, flags
    )
    cpu_s = time.process_time() - cpu_start
    return {
        "benchmark": "accuracy",
        "order": name,
        "learning_rate": float(learning_rate),
        "seed": seed,
        "train_samples": results["train_samples"],
        "eval_samples": results["eval_samples"],
        "accuracy": results["eval_accuracy"],
        "eval_loss": results["eval_loss"],
        "f1": results["eval_f1"],
        "train_samples_per_second": results["train_samples_per_second"],
        "train_runtime_s": results["train_runtime"],
        "wall_s": round(wall_s, 1),
        "cpu_s": round(cpu_s, 1),
        "samples_per_cpu_second": round(results["train_samples"] / cpu_s, 1),
        "torch_threads": args.torch_threads,
        **machine(),
    }


def main() -> None:
    args = parse_args()
    set_threads(args.torch_threads)
    if args.shuffle_first_batch:
        import nsmc_trainer.batching

        nsmc_trainer.batching.shuffle_batches = shuffle_all_batches
    if args.mega_batch_mult:
        use_mega_batch_mult(args.mega_batch_mult)
    for learning_rate in args.learning_rates:
        for seed in args.seeds:
            for order in args.orders:
                run_and_emit(lambda: measure(args, order, learning_rate, seed))


if __name__ == "__main__":
    main()
