"""Trainer's log history (trainer_state.json) read as one row per epoch: the console's epoch lines,
the learning curves and the model card's results table all show these same numbers."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where Trainer saves its state, log history included, in an output or checkpoint directory.
TRAINER_STATE_NAME = "trainer_state.json"


@dataclass(frozen=True)
class EpochResult:
    epoch: float
    step: int
    learning_rate: float | None
    training_loss: float | None
    eval_loss: float
    accuracy: float | None


def read_log_history(output_dir: str | Path) -> list[dict[str, Any]]:
    """The log history Trainer saved in `output_dir`; [] when there is none."""
    path = Path(output_dir) / TRAINER_STATE_NAME
    if not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8")).get("log_history", [])


def training_logs(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries of logged training steps (loss and learning rate), not evaluations or the final summary."""
    return [entry for entry in log_history if "loss" in entry and "step" in entry]


def _mean_training_loss(logs: list[dict[str, Any]], after_step: int) -> float | None:
    """Each logged loss is the mean since the previous log, so it is weighted by the steps it covers."""
    total, steps, previous = 0.0, 0, after_step
    for entry in logs:
        total += entry["loss"] * (entry["step"] - previous)
        steps += entry["step"] - previous
        previous = entry["step"]
    return total / steps if steps else None


def epoch_results(log_history: list[dict[str, Any]]) -> list[EpochResult]:
    """One row per evaluation: the training loss and learning rate logged since the previous one."""
    logs = training_logs(log_history)
    results: list[EpochResult] = []
    previous_step = 0
    for entry in log_history:
        if "eval_loss" not in entry:
            continue
        step = entry["step"]
        epoch_logs = [log for log in logs if previous_step < log["step"] <= step]
        results.append(
            EpochResult(
                epoch=entry.get("epoch", len(results) + 1),
                step=step,
                learning_rate=epoch_logs[0]["learning_rate"] if epoch_logs else None,
                training_loss=_mean_training_loss(epoch_logs, previous_step),
                eval_loss=entry["eval_loss"],
                accuracy=entry.get("eval_accuracy"),
            )
        )
        previous_step = step
    return results


def best_index(log_history: list[dict[str, Any]], metric: str = "eval_loss", greater_is_better: bool = False) -> int | None:
    """The index in `epoch_results` of the evaluation that picked the final model (the first of equals, as Trainer)."""
    values = [entry[metric] for entry in log_history if "eval_loss" in entry and metric in entry]
    if not values:
        return None
    best = max(values) if greater_is_better else min(values)
    return values.index(best)
