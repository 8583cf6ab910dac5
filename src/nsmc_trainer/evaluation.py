"""The final model evaluated: metrics and a confusion matrix on the evaluation split, metrics on a
labelled test split too, or a predictions file for a test split without labels."""

import csv
import json
import logging
from pathlib import Path

import datasets
from transformers import Trainer

from .config import ID_COLUMN, LABEL_COLUMN
from .data import has_labels
from .metrics import confusion_matrix
from .predict import label_scores

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.tsv"
CONFUSION_MATRIX_FILE = "confusion_matrix.json"


def evaluate_final_model(
    trainer: Trainer, corpus: datasets.DatasetDict, features: datasets.DatasetDict, eval_split: str
) -> dict[str, float]:
    """Evaluate (and save the metrics and confusion matrix of) the model `trainer` holds after training: the best one."""
    output = trainer.predict(features[eval_split], metric_key_prefix="eval")
    eval_metrics = dict(output.metrics, epoch=trainer.state.epoch, eval_samples=len(features[eval_split]))
    trainer.save_metrics("eval", eval_metrics)
    if trainer.is_world_process_zero():
        labels = features[eval_split].features[LABEL_COLUMN].names
        write_confusion_matrix(
            Path(trainer.args.output_dir) / CONFUSION_MATRIX_FILE,
            eval_split,
            labels,
            confusion_matrix(output.predictions, output.label_ids, len(labels)),
        )
    if "test" in corpus and eval_split != "test":
        if has_labels(corpus["test"]):
            test_metrics = trainer.evaluate(features["test"], metric_key_prefix="test")
            trainer.log_metrics("test", test_metrics)
            trainer.save_metrics("test", test_metrics)
        else:
            write_predictions(trainer, features["test"], Path(trainer.args.output_dir) / PREDICTIONS_FILE)
    return eval_metrics


def write_confusion_matrix(path: Path, split: str, labels: list[str], matrix: list[list[int]]) -> None:
    """Saved for the model card; rows are the true labels, columns the predicted ones."""
    record = {"split": split, "labels": labels, "rows": "true label", "columns": "predicted label", "matrix": matrix}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


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
