"""Featurization of the full NSMC (200K reviews): from scratch, then from the cache, each in a fresh process.

    python bench/featurize.py [--num_proc 2] [--tokenizer DIR] [--data_dir DIR]

Each phase runs in its own Python process, as a user's first and second training runs would, so
the second really reads the cache from disk and each phase's peak memory is its own. Prints one
JSON line: for both phases the seconds to read and parse the NSMC text or load the corpus parsed
before (`read_s`), to tokenize or load features (`features_s`) and their sum (`total_s`), CPU
seconds, and peak RSS.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import KCBERT_TOKENIZER, NSMC, cpu_seconds, emit, machine, peak_rss_mb


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=NSMC)
    parser.add_argument("--tokenizer", type=Path, default=KCBERT_TOKENIZER)
    parser.add_argument("--num_proc", type=int, default=2, help="--preprocessing_num_workers")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--cache_dir", type=Path, help="Corpus and features cache (default: a fresh temporary directory).")
    parser.add_argument("--phase", choices=["scratch", "cache"], help="Run one phase in this process (internal).")
    return parser.parse_args()


def run_phase(args: argparse.Namespace) -> dict:
    """One featurization as `train()` does it: read the corpus, then tokenize or reuse the cache."""
    import datasets
    from transformers import AutoTokenizer

    from nsmc_trainer.config import DataArguments
    from nsmc_trainer.data import load_corpus
    from nsmc_trainer.features import tokenize_corpus

    datasets.disable_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    cpu_start, start = cpu_seconds(), time.perf_counter()
    corpus = load_corpus(DataArguments(data_dir=str(args.data_dir), features_cache_dir=str(args.cache_dir)))
    read_s = time.perf_counter() - start
    features = tokenize_corpus(corpus, tokenizer, args.max_seq_length, cache_dir=args.cache_dir, num_proc=args.num_proc)
    total_s = time.perf_counter() - start
    return {
        "examples": sum(len(split) for split in features.values()),
        "read_s": round(read_s, 2),
        "features_s": round(total_s - read_s, 2),
        "total_s": round(total_s, 2),
        "cpu_s": round(cpu_seconds() - cpu_start, 2),
        **{key: round(value) for key, value in peak_rss_mb().items()},
    }


def run_in_subprocess(args: argparse.Namespace, phase: str, cache_dir: Path) -> dict:
    command = [
        sys.executable, __file__, "--phase", phase, "--cache_dir", str(cache_dir),
        "--data_dir", str(args.data_dir), "--tokenizer", str(args.tokenizer),
        "--num_proc", str(args.num_proc), "--max_seq_length", str(args.max_seq_length),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    if args.phase is not None:
        emit(run_phase(args))
        return
    with tempfile.TemporaryDirectory() as temporary:
        cache_dir = args.cache_dir or Path(temporary)
        scratch = run_in_subprocess(args, "scratch", cache_dir)
        cached = run_in_subprocess(args, "cache", cache_dir)
    emit(
        {
            "benchmark": "featurize",
            "num_proc": args.num_proc,
            "tokenizer": args.tokenizer.name,
            "scratch": scratch,
            "cache": cached,
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
