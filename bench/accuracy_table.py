"""The Markdown table of bench/accuracy.py's results: means over seeds, and issue 11's target.

    python bench/accuracy_table.py out-bench/logs/accuracy-*.jsonl

Reads the JSON lines of any number of runs and groups them by data size and learning rate. The
target, per setting: the default order's accuracy (mean over seeds) within 0.5 points of random
order's, at >= 4x pad-to-128's train samples/s. The speed ratio is judged per CPU second, which
the shared machine's load changes far less than wall time (both are shown). Where a setting lacks
pad-to-128 runs, the ratio is taken over pad-to-128's runs at the same learning rate and any data
size.
"""

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

# Experiments' variants of the default order come after these, by name.
ORDERS = ["pad_to_128", "dynamic_random", "length_grouped"]
ACCURACY_GAP = 0.5
SPEEDUP = 4.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="Files of bench/accuracy.py's JSON lines.")
    return parser.parse_args()


def read_runs(paths: list[Path]) -> list[dict]:
    lines = (line for path in paths for line in path.read_text().splitlines() if line.startswith("{"))
    return [run for run in map(json.loads, lines) if run.get("benchmark") == "accuracy"]


def mean(runs: list[dict], key: str) -> float:
    return statistics.mean(run[key] for run in runs)


def setting_rows(runs: list[dict]) -> list[str]:
    """One row per data size, learning rate and order, then the target's verdict for the setting."""
    by_setting: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    padded_by_rate: dict[float, list[dict]] = defaultdict(list)
    for run in runs:
        setting = (run["train_samples"], run["eval_samples"], run["learning_rate"])
        by_setting[setting][run["order"]].append(run)
        if run["order"] == "pad_to_128":
            padded_by_rate[run["learning_rate"]].append(run)
    rows = []
    for (train, evaluated, rate), orders in sorted(by_setting.items(), key=lambda item: (-item[0][0], item[0][2])):
        for order in sorted(orders, key=lambda name: (ORDERS.index(name) if name in ORDERS else len(ORDERS), name)):
            group = orders[order]
            accuracies = ", ".join(f"{100 * run['accuracy']:.2f}" for run in sorted(group, key=lambda r: -r["seed"]))
            seeds = ", ".join(str(run["seed"]) for run in sorted(group, key=lambda r: -r["seed"]))
            rows.append(
                f"| {train:,} / {evaluated:,} | {rate:g} | {order} | {seeds} | **{100 * mean(group, 'accuracy'):.2f}%** "
                f"({accuracies}) | {mean(group, 'eval_loss'):.4f} | {mean(group, 'train_samples_per_second'):.1f} "
                f"| {mean(group, 'samples_per_cpu_second'):.1f} |"
            )
        rows.append(f"| | | *target* | | {verdict(orders, padded_by_rate[rate])} | | | |")
    return rows


def verdict(orders: dict[str, list[dict]], padded_at_rate: list[dict]) -> str:
    if "length_grouped" not in orders or "dynamic_random" not in orders:
        return "incomplete"
    gap = 100 * (mean(orders["length_grouped"], "accuracy") - mean(orders["dynamic_random"], "accuracy"))
    padded = orders.get("pad_to_128", padded_at_rate)
    if not padded:
        return f"default - random {gap:+.2f} points; no pad-to-128 run to compare speed with"
    cpu_speedup = mean(orders["length_grouped"], "samples_per_cpu_second") / mean(padded, "samples_per_cpu_second")
    wall_speedup = mean(orders["length_grouped"], "train_samples_per_second") / mean(
        padded, "train_samples_per_second"
    )
    met = abs(gap) <= ACCURACY_GAP and cpu_speedup >= SPEEDUP
    return (
        f"default - random {gap:+.2f} points; {cpu_speedup:.1f}x pad-128 per CPU s ({wall_speedup:.1f}x wall): "
        f"**{'met' if met else 'not met'}**"
    )


def main() -> None:
    args = parse_args()
    header = [
        "| train / eval reviews | lr | order | seeds | accuracy, mean (per seed) | eval_loss | train samples/s "
        "| samples / CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(header + setting_rows(read_runs(args.results))))


if __name__ == "__main__":
    main()
