"""Training speed at kcbert-base's shape: ratsnlp's padding to 128 against the default batches.

    python bench/base_shape_speed.py --torch_threads 1                                   # CPU
    python bench/base_shape_speed.py --device cuda --precision fp16 --steps 201 --pad_steps 51   # a GPU
    python bench/base_shape_speed.py --device cuda --precision bf16 --steps 201 --pad_steps 51

The model is a randomly initialised `BertForSequenceClassification` built from kcbert-base's own
config.json (12 layers, hidden 768, 12 heads, intermediate 3072, 300 positions, 30K vocabulary;
no weights are needed to time it), trained on real NSMC batches by `NsmcTrainer` with the
project's collator, sampler and optimizer. Schemes (as in bench/train_throughput.py), measured
side by side in one process, round-robin over `--rounds`, each round on other batches (seed + round);
figures are medians over rounds, counting the steps after the first (see `common.step_clock`):

- pad_to_128:      `--pad_to_max_length --train_sampling_strategy random` (ratsnlp)
- length_grouped:  the default (length-grouped batches, each padded to its longest review)

`--with_dynamic_random` adds random order with per-batch padding. Every pad-to-128 batch has the
same shape, so a few steps (`--pad_steps`) measure it; per-batch padded ones vary from a few
tokens to 128, so they need more (`--steps`) to sample the lengths of an epoch. The JSON gives the
mean padded length of the length-grouped batches timed (`timed_padded_length`) beside that of a
whole epoch's batches (`epoch_padded_length`): a speedup measured on shorter batches than an
epoch's overstates it. Prints one JSON line.
"""

import argparse
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from common import (
    KCBERT_TOKENIZER,
    NSMC,
    OUTPUT_ROOT,
    add_threads_flag,
    load_train_features,
    machine,
    make_trainer,
    run_and_emit,
    set_threads,
    time_training,
)

if TYPE_CHECKING:
    import numpy as np

    from nsmc_trainer.trainer import NsmcTrainer


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=NSMC)
    parser.add_argument(
        "--model_dir", type=Path, default=KCBERT_TOKENIZER, help="kcbert-base's tokenizer and config.json."
    )
    parser.add_argument("--features_cache_dir", type=Path, default=OUTPUT_ROOT / "features")
    parser.add_argument("--with_dynamic_random", action="store_true")
    parser.add_argument(
        "--steps",
        type=int,
        default=31,
        help="Optimizer steps per round of the per-batch padded schemes; all but the first are timed.",
    )
    parser.add_argument("--pad_steps", type=int, default=4, help="The same for pad_to_128.")
    parser.add_argument("--seed", type=int, default=7, help="Round r draws its batches and weights with seed + r.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--precision",
        choices=["fp32", "fp16", "bf16"],
        default="fp32",
        help="fp16 and bf16 are Trainer's mixed precision (--fp16 / --bf16), on CUDA only.",
    )
    add_threads_flag(parser)
    args = parser.parse_args()
    check_device(parser, args)
    return args


def check_device(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fail before minutes of tokenizing and model building if the device asked for is not there."""
    if args.device == "cpu" and args.precision != "fp32":
        parser.error(f"--precision {args.precision} needs --device cuda: on the CPU this benchmark runs fp32.")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error(
                "--device cuda: torch finds no CUDA device here (torch.cuda.is_available() is False; "
                f"torch {torch.__version__}, built with CUDA {torch.version.cuda}). Run on a GPU machine, "
                "or use --device cpu."
            )
        if args.precision == "bf16" and not torch.cuda.is_bf16_supported():
            parser.error(f"--precision bf16: {torch.cuda.get_device_name()} does not support bf16.")


def padded_batch_lengths(trainer: "NsmcTrainer", lengths: "np.ndarray", batch_size: int) -> "np.ndarray":
    """The padded length of each whole batch of one epoch, in the order the trainer's sampler
    yields (drawn from the trainer's seed alone, so training then sees the same batches)."""
    import numpy as np

    order = np.fromiter(trainer._get_train_sampler(), dtype=np.int64)
    whole = len(order) // batch_size * batch_size
    return lengths[order[:whole]].reshape(-1, batch_size).max(axis=1)


def measure(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from nsmc_trainer.batching import token_lengths
    from nsmc_trainer.trainer import NsmcTrainer

    set_threads(args.torch_threads)
    schemes = ["pad_to_128", *(["dynamic_random"] if args.with_dynamic_random else []), "length_grouped"]
    config = BertConfig.from_pretrained(args.model_dir, num_labels=2)
    tokenizer, features = load_train_features(args.data_dir, args.model_dir, args.features_cache_dir, args.max_seq_length)
    lengths = token_lengths(features[False])
    grouped_lengths: list[np.ndarray] = []

    def new_trainer(scheme: str, round_index: int) -> NsmcTrainer:
        trainer = make_trainer(
            lambda: BertForSequenceClassification(config),
            tokenizer,
            features,
            scheme,
            args.pad_steps if scheme == "pad_to_128" else args.steps,
            args.max_seq_length,
            seed=args.seed + round_index,
            per_device_train_batch_size=args.batch_size,
            use_cpu=args.device == "cpu",
            fp16=args.precision == "fp16",
            bf16=args.precision == "bf16",
        )
        if scheme == "length_grouped":
            grouped_lengths.append(padded_batch_lengths(trainer, lengths, args.batch_size))
        return trainer

    samples_per_second, samples_per_cpu_second = time_training(new_trainer, schemes, args.rounds)
    medians = {name: statistics.median(values) for name, values in samples_per_second.items()}
    cpu_medians = {name: statistics.median(values) for name, values in samples_per_cpu_second.items()}
    return {
        "benchmark": "base_shape_speed",
        "model": {
            "layers": config.num_hidden_layers,
            "hidden": config.hidden_size,
            "heads": config.num_attention_heads,
            "intermediate": config.intermediate_size,
            "max_positions": config.max_position_embeddings,
            "vocab": config.vocab_size,
        },
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "precision": args.precision,
        "batch_size": args.batch_size,
        "steps_per_round": args.steps,
        "pad_steps_per_round": args.pad_steps,
        "timed_padded_length": round(float(np.mean([batches[1 : args.steps].mean() for batches in grouped_lengths])), 1),
        "epoch_padded_length": round(float(grouped_lengths[0].mean()), 1),
        "rounds": args.rounds,
        "samples_per_second": {name: round(value, 2) for name, value in medians.items()},
        "samples_per_second_all_rounds": {
            name: [round(value, 2) for value in values] for name, values in samples_per_second.items()
        },
        "speedup_vs_pad_to_128": {name: round(value / medians["pad_to_128"], 2) for name, value in medians.items()},
        "speedup_vs_pad_to_128_per_round": {
            name: [round(value / padded, 2) for value, padded in zip(values, samples_per_second["pad_to_128"])]
            for name, values in samples_per_second.items()
        },
        "samples_per_cpu_second": {name: round(value, 2) for name, value in cpu_medians.items()},
        "cpu_speedup_vs_pad_to_128": {
            name: round(value / cpu_medians["pad_to_128"], 2) for name, value in cpu_medians.items()
        },
        "torch_threads": args.torch_threads,
        **machine(),
    }


def main() -> None:
    args = parse_args()
    run_and_emit(lambda: measure(args))


if __name__ == "__main__":
    main()
