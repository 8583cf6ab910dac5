"""What the benchmark scripts share: the ../shared material, peak memory, and one JSON line out."""

import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

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
