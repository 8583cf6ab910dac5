"""What the benchmark scripts share: the ../shared material, peak memory, one JSON line out, and
the project's own training (`nsmc-train`, or its Trainer for one scheme of batches) to time."""

import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback

    from nsmc_trainer.trainer import NsmcTrainer

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
NSMC = SHARED / "data" / "nsmc"
TINY_MODEL = SHARED / "models" / "bert-tiny-kcbert"
KCBERT_TOKENIZER = SHARED / "models" / "kcbert-base-tokenizer"
# Ignored by git (/out*/), so benchmark outputs never end up in a commit.
OUTPUT_ROOT = REPO / "out-bench"

# The orders and paddings of training batches compared throughout: ratsnlp's, ratsnlp's order with
# per-batch padding, and the project's default.
TRAIN_SCHEMES = {
    "pad_to_128": {"pad_to_max_length": True, "train_sampling_strategy": "random"},
    "dynamic_random": {"pad_to_max_length": False, "train_sampling_strategy": "random"},
    "length_grouped": {"pad_to_max_length": False, "train_sampling_strategy": "group_by_length"},
}


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its largest finished child (Linux reports KiB)."""
    return {
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mb_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: less sensitive than wall time to a busy machine."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine() -> dict:
    return {"date": date.today().isoformat(), "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}


def emit(result: dict) -> None:
    """The one JSON line a benchmark prints on stdout; logs go to stderr."""
    print(json.dumps(result, ensure_ascii=False), file=sys.stdout, flush=True)


def run_and_emit(measure: Callable[[], dict]) -> None:
    """Trainer prints its metrics on stdout: send them to stderr, so stdout holds only the JSON line."""
    with contextlib.redirect_stdout(sys.stderr):
        result = measure()
    emit(result)


def add_threads_flag(parser) -> None:
    parser.add_argument(
        "--torch_threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice). On a shared, busy machine 1 avoids threads "
        "spinning against other processes, which makes timings far noisier than the work itself.",
    )


def set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def scheme_flags(scheme: str) -> list[str]:
    """The `nsmc-train` flags that select one of `TRAIN_SCHEMES`."""
    settings = TRAIN_SCHEMES[scheme]
    return [
        "--pad_to_max_length", str(settings["pad_to_max_length"]).lower(),
        "--train_sampling_strategy", settings["train_sampling_strategy"],
    ]  # fmt: skip


def use_mega_batch_mult(mega_batch_mult: int) -> None:
    """An experiment on the default order: group lengths within mega-batches of `mega_batch_mult`
    global batches instead of Trainer's 50. Fewer mixes more lengths into each batch, at the cost
    of more padding."""
    import functools

    from transformers.trainer_pt_utils import get_length_grouped_indices

    import nsmc_trainer.batching

    nsmc_trainer.batching.get_length_grouped_indices = functools.partial(
        get_length_grouped_indices, mega_batch_mult=mega_batch_mult
    )


def run_nsmc_train(
    model: Path, data_dir: Path, output_dir: Path, features_cache_dir: Path, flags: list[str]
) -> tuple[float, dict]:
    """One epoch of `nsmc-train` in this process, as a user runs it, with `flags` on top: the wall
    seconds it took (reading and tokenizing included) and its `all_results.json`."""
    from nsmc_trainer.cli import main as nsmc_train

    argv = [
        "--model_name_or_path", str(model),
        "--data_dir", str(data_dir),
        "--output_dir", str(output_dir),
        "--features_cache_dir", str(features_cache_dir),
        "--num_train_epochs", "1",
        "--overwrite_output_dir", "true",
        "--report_to", "none",
        "--disable_tqdm", "true",
        *flags,
    ]  # fmt: skip
    start = time.perf_counter()
    nsmc_train(argv)
    wall_s = time.perf_counter() - start
    return wall_s, json.loads((output_dir / "all_results.json").read_text())


def load_train_features(
    data_dir: Path, tokenizer_dir: Path, features_cache_dir: Path, max_seq_length: int
) -> tuple["PreTrainedTokenizerBase", dict[bool, "Dataset"]]:
    """The tokenizer and the training reviews' features, keyed by `pad_to_max_length`: the padded
    schemes train on features padded to `max_seq_length`, as `nsmc-train` would give them."""
    import datasets
    from transformers import AutoTokenizer

    from nsmc_trainer.config import DataArguments
    from nsmc_trainer.data import load_corpus
    from nsmc_trainer.features import tokenize_corpus

    datasets.disable_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    corpus = load_corpus(DataArguments(data_dir=str(data_dir), features_cache_dir=str(features_cache_dir)))
    features = {
        padded: tokenize_corpus(
            corpus, tokenizer, max_seq_length, cache_dir=features_cache_dir, pad_to_max_length=padded
        )["train"]
        for padded in (False, True)
    }
    return tokenizer, features


def make_trainer(
    new_model: Callable[[], "PreTrainedModel"],
    tokenizer: "PreTrainedTokenizerBase",
    features: dict[bool, "Dataset"],
    scheme: str,
    max_steps: int,
    max_seq_length: int,
    **training_args,
) -> "NsmcTrainer":
    """The project's Trainer, collator and sampler for one of `TRAIN_SCHEMES`, on a fresh model
    drawn after `set_seed`, so that every scheme starts from the same weights; it trains
    `max_steps` optimizer steps and neither evaluates, saves nor logs."""
    from transformers import set_seed

    from nsmc_trainer.batching import make_collator
    from nsmc_trainer.config import DataArguments, NsmcTrainingArguments
    from nsmc_trainer.trainer import NsmcTrainer

    settings = TRAIN_SCHEMES[scheme]
    train_dataset = features[settings["pad_to_max_length"]]
    data_args = DataArguments(pad_to_max_length=settings["pad_to_max_length"], max_seq_length=max_seq_length)
    args = NsmcTrainingArguments(
        output_dir=str(OUTPUT_ROOT / "throughput"),
        train_sampling_strategy=settings["train_sampling_strategy"],
        max_steps=max_steps,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        load_best_model_at_end=False,
        report_to="none",
        disable_tqdm=True,
        **training_args,
    )
    set_seed(args.seed)
    return NsmcTrainer(
        model=new_model(),
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        data_collator=make_collator(tokenizer, data_args, args, train_dataset),
    )


def step_clock() -> "TrainerCallback":
    """A callback that reads the wall and CPU clocks (`.marks`) at the end of the first and of the
    last optimizer step; defined here so that importing common.py does not import transformers.

    The first step is left out of the timing: it also allocates the optimizer's state, and in
    length-grouped order it is the batch that holds the longest review, which would weigh on a
    run of a few steps far more than its one step in thousands of an epoch.
    """
    import torch
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.marks: list[tuple[float, float]] = []

        def on_step_end(self, args, state, control, **kwargs) -> None:
            if state.global_step in (1, state.max_steps):
                if args.device.type == "cuda":
                    torch.cuda.synchronize()
                self.marks.append((time.perf_counter(), time.process_time()))

    return StepClock()


def time_training(
    new_trainer: Callable[[str, int], "NsmcTrainer"], schemes: list[str], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Samples per wall second and per CPU second for each scheme and round, from the end of the
    first optimizer step to the end of the last; `new_trainer(scheme, round)` builds the trainer.

    The schemes take turns within every round, so that a load that comes and goes slows them alike.
    """
    per_second: dict[str, list[float]] = {name: [] for name in schemes}
    per_cpu_second: dict[str, list[float]] = {name: [] for name in schemes}
    for round_index in range(rounds):
        for name in schemes:
            trainer = new_trainer(name, round_index)
            if trainer.args.max_steps < 2:
                raise ValueError("Timing needs at least 2 optimizer steps: the first one is not timed.")
            clock = step_clock()
            trainer.add_callback(clock)
            trainer.train()
            (start, cpu_start), (end, cpu_end) = clock.marks
            samples = (trainer.args.max_steps - 1) * trainer.args.train_batch_size
            per_second[name].append(samples / (end - start))
            per_cpu_second[name].append(samples / (cpu_end - cpu_start))
    return per_second, per_cpu_second
