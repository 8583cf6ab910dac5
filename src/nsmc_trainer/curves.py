"""training_curves.png: the learning curves of a run, drawn from trainer_state.json's log history.

matplotlib is an optional extra (`pip install "nsmc-trainer[plots]"`): without it a run logs a
note and writes no picture. Labels are in English, with Korean added where a Korean font is installed.
"""

import importlib.util
import logging
from pathlib import Path
from typing import Any

from .history import EpochResult, best_index, epoch_results, read_log_history, training_logs

logger = logging.getLogger(__name__)

CURVES_FILE = "training_curves.png"
# Fonts with Hangul that matplotlib may find installed (Colab: `apt-get install fonts-nanum`).
KOREAN_FONTS = ("NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic", "AppleGothic")
# Colours that stay apart for colour-blind readers (matplotlib's tab10 blue, orange, green).
TRAIN_COLOUR, EVAL_COLOUR, BEST_COLOUR = "#1f77b4", "#ff7f0e", "#2ca02c"


def korean_font() -> str | None:
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in KOREAN_FONTS if name in installed), None)


def _label(english: str, korean: str, bilingual: bool) -> str:
    return f"{english} / {korean}" if bilingual else english


def _mark_epochs(axes: list[Any], epochs: list[EpochResult], best: EpochResult | None) -> None:
    """A faint line where each epoch ends, a dashed green one at the epoch whose checkpoint was kept."""
    for axis in axes:
        for epoch in epochs:
            if epoch is not best:
                axis.axvline(epoch.step, color="grey", linestyle=":", linewidth=1)
        if best is not None:
            axis.axvline(best.step, color=BEST_COLOUR, linestyle="--", linewidth=1)


def draw_curves(log_history: list[dict[str, Any]], path: Path, metric: str, greater_is_better: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server or in a training process
    import matplotlib.pyplot as plt

    font = korean_font()
    bilingual = font is not None
    steps = training_logs(log_history)
    epochs = epoch_results(log_history)
    best_at = best_index(log_history, metric, greater_is_better)
    best = epochs[best_at] if best_at is not None else None

    with plt.rc_context({"font.family": [font, "sans-serif"] if font else ["sans-serif"], "axes.unicode_minus": False}):
        figure, (loss_axis, accuracy_axis, lr_axis) = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
        step_label = _label("optimizer step (dotted: end of an epoch)", "스텝", bilingual)

        loss_axis.plot([e["step"] for e in steps], [e["loss"] for e in steps], color=TRAIN_COLOUR, alpha=0.8,
                       label=_label("training loss (per logged step)", "학습 손실", bilingual))  # fmt: skip
        loss_axis.plot([e.step for e in epochs], [e.eval_loss for e in epochs], "o-", color=EVAL_COLOUR,
                       label=_label("eval loss (per epoch)", "평가 손실", bilingual))  # fmt: skip
        loss_axis.set(title=_label("Loss", "손실", bilingual), xlabel=step_label, ylabel="cross-entropy")

        accuracy = [(e.step, e.accuracy * 100) for e in epochs if e.accuracy is not None]
        accuracy_axis.plot([s for s, _ in accuracy], [a for _, a in accuracy], "o-", color=EVAL_COLOUR,
                           label=_label("eval accuracy (per epoch)", "평가 정확도", bilingual))  # fmt: skip
        accuracy_axis.set(title=_label("Accuracy", "정확도", bilingual), xlabel=step_label, ylabel="%")

        # A logged learning rate is the one its steps since the previous log ran at, hence "pre".
        lr_axis.step([e["step"] for e in steps], [e["learning_rate"] for e in steps], where="pre", color=TRAIN_COLOUR,
                     label=_label("learning rate (per logged step)", "학습률", bilingual))  # fmt: skip
        lr_axis.set(title=_label("Learning rate", "학습률", bilingual), xlabel=step_label)
        lr_axis.yaxis.set_major_formatter("{x:.2e}")

        axes = [loss_axis, accuracy_axis, lr_axis]
        _mark_epochs(axes, epochs, best)
        if best is not None:
            best_label = _label(f"best: epoch {round(best.epoch)}", "최적 모델", bilingual)
            loss_axis.plot([best.step], [best.eval_loss], "*", markersize=16, color=BEST_COLOUR, label=best_label)
            if best.accuracy is not None:
                accuracy_axis.plot([best.step], [best.accuracy * 100], "*", markersize=16, color=BEST_COLOUR,
                                   label=best_label)  # fmt: skip
        for axis in axes:
            axis.grid(alpha=0.3)
            axis.legend(fontsize="small")
        figure.savefig(path, dpi=100)
        plt.close(figure)


def write_training_curves(
    output_dir: str | Path, metric: str = "eval_loss", greater_is_better: bool = False
) -> Path | None:
    """OUTPUT_DIR/training_curves.png from OUTPUT_DIR/trainer_state.json; None when there is
    nothing to draw or no matplotlib."""
    log_history = read_log_history(output_dir)
    if not training_logs(log_history) and not epoch_results(log_history):
        return None
    if importlib.util.find_spec("matplotlib") is None:
        logger.info('No %s: matplotlib is not installed (pip install "nsmc-trainer[plots]")', CURVES_FILE)
        return None
    path = Path(output_dir) / CURVES_FILE
    draw_curves(log_history, path, metric, greater_is_better)
    logger.info("Learning curves: %s", path)
    return path
