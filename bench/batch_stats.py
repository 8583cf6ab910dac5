"""What consecutive training batches look like in each order: the lengths and labels a step sees.

    python bench/batch_stats.py --max_train_samples 16000 [--seeds 7 1]

For the orders of bench/accuracy.py, plus Trainer's own length grouping without the batch shuffle
(`grouped_unshuffled`, the order before `shuffle_batches`), one epoch of the batches the project's
sampler yields, per seed:

- `length_lag1_corr`: correlation of consecutive batches' mean lengths (the saw-tooth of
  mega-batches sorted longest to shortest shows as a correlation near 1; random order near 0);
- `positive_share_std` against `binomial_std`: how far batches' share of positive reviews spreads
  beyond what random batches of that size give, i.e. extra per-step noise in the gradient when
  length and label are correlated;
- `first_batch_mean_length`: the batch that keeps its place first;
- `token_efficiency`: real tokens / computed tokens with each batch padded to its longest review
  (padding to 128 aside).

`--mega_batch_mult N` groups the default order's lengths within mega-batches of N batches instead
of Trainer's 50 (the experiment of `bench/accuracy.py --mega_batch_mult`).

No training, so it takes seconds. Prints one JSON line.
"""

import argparse
from pathlib import Path

from common import (
    NSMC,
    OUTPUT_ROOT,
    TINY_MODEL,
    TRAIN_SCHEMES,
    load_train_features,
    machine,
    make_trainer,
    run_and_emit,
    use_mega_batch_mult,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=NSMC)
    parser.add_argument("--model_name_or_path", type=Path, default=TINY_MODEL)
    parser.add_argument("--features_cache_dir", type=Path, default=OUTPUT_ROOT / "features")
    parser.add_argument("--max_train_samples", type=int, default=None, help="Default: all 150K.")
    parser.add_argument("--seeds", nargs="+", type=int, default=[7, 1])
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--mega_batch_mult", type=int, default=None, help="Experiment; see above.")
    return parser.parse_args()


def batch_stats(order, lengths, labels, batch_size: int) -> dict:
    """Statistics of the whole batches of one epoch's example order."""
    import numpy as np

    from nsmc_trainer.batching import token_efficiency

    full = len(order) // batch_size * batch_size
    batches = np.asarray(order[:full]).reshape(-1, batch_size)
    mean_lengths = lengths[batches].mean(axis=1)
    positive_share = labels[batches].mean(axis=1)
    p = labels.mean()
    return {
        "length_lag1_corr": round(float(np.corrcoef(mean_lengths[:-1], mean_lengths[1:])[0, 1]), 3),
        "positive_share_std": round(float(positive_share.std()), 4),
        "binomial_std": round(float(np.sqrt(p * (1 - p) / batch_size)), 4),
        "first_batch_mean_length": round(float(mean_lengths[0]), 1),
        "token_efficiency": round(token_efficiency(lengths, order, batch_size), 3),
    }


def measure(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.trainer_pt_utils import get_length_grouped_indices

    from nsmc_trainer.batching import token_lengths

    if args.mega_batch_mult:
        use_mega_batch_mult(args.mega_batch_mult)
    tokenizer, features = load_train_features(
        args.data_dir, args.model_name_or_path, args.features_cache_dir, args.max_seq_length
    )
    subset = {
        padded: dataset.select(range(min(args.max_train_samples or len(dataset), len(dataset))))
        for padded, dataset in features.items()
    }
    lengths = token_lengths(subset[False])
    labels = np.asarray(subset[False]["label"], dtype=np.float64)
    by_seed = {}
    for seed in args.seeds:
        orders = {}
        for scheme in TRAIN_SCHEMES:
            trainer = make_trainer(
                lambda: AutoModelForSequenceClassification.from_pretrained(args.model_name_or_path, num_labels=2),
                tokenizer,
                subset,
                scheme,
                1,
                args.max_seq_length,
                per_device_train_batch_size=args.batch_size,
                use_cpu=True,
                seed=seed,
            )
            orders[scheme] = list(trainer._get_train_sampler())
        generator = torch.Generator().manual_seed(seed)
        orders["grouped_unshuffled"] = get_length_grouped_indices(
            lengths.tolist(), args.batch_size, mega_batch_mult=args.mega_batch_mult, generator=generator
        )
        by_seed[seed] = {name: batch_stats(order, lengths, labels, args.batch_size) for name, order in orders.items()}
    return {
        "benchmark": "batch_stats",
        "train_samples": len(lengths),
        "batch_size": args.batch_size,
        "positive_share": round(float(labels.mean()), 4),
        "mega_batch_mult": args.mega_batch_mult,
        "by_seed": by_seed,
        **machine(),
    }


def main() -> None:
    args = parse_args()
    run_and_emit(lambda: measure(args))


if __name__ == "__main__":
    main()
