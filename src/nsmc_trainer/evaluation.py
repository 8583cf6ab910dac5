"""The final model evaluated: metrics on the evaluation split, on a labelled test split too, or a
predictions file for a test split without labels."""

import csv
import logging
from pathlib import Path

import datasets
from transformers import Trainer

from .config import ID_COLUMN, LABEL_COLUMN
from .data import has_labels
from .predict import label_scores

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.tsv"


def evaluate_final_model(
    trainer: Trainer, corpus: datasets.DatasetDict, features: datasets.DatasetDict, eval_split: str
) -> dict[str, float]:
    """Evaluate (and save the metrics of) the model `trainer` holds after training: the best one."""
    eval_metrics = dict(trainer.evaluate(), eval_samples=len(features[eval_split]))
    trainer.log_metrics("eval", eval_metrics)
    trainer.save_metrics("eval", eval_metrics)
    if "test" in corpus and eval_split != "test":
        if has_labels(corpus["test"]):
            test_metrics = trainer.evaluate(features["test"], metric_key_prefix="test")
            trainer.log_metrics("test", test_metrics)
            trainer.save_metrics("test", test_metrics)
        else:
            write_predictions(trainer, features["test"], Path(trainer.args.output_dir) / PREDICTIONS_FILE)
    return eval_metrics


def write_predictions(trainer: Trainer, features: datasets.Dataset, path: Path) -> None:
    """Label a prediction-only test split; its ids (or line numbers) join the labels back to the rows."""
    logits = trainer.predict(features.remove_columns(LABEL_COLUMN)).predictions
    if not trainer.is_world_process_zero():
        return
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter="\t", lineterminator="\n")
        writer.writerow([ID_COLUMN, "label", "score"])
        for row_id, result in zip(features[ID_COLUMN], label_scores(logits, trainer.model.config.id2label)):
            writer.writerow([row_id, result["label"], f"{result['score']:.4f}"])
    logger.info("Wrote %d predictions to %s", len(features), path)
