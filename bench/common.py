"""What the benchmark scripts share: the ../shared material, peak memory, and one JSON line out."""

import contextlib
import json
import os
import resource
import sys
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
