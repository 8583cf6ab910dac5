"""What evaluation reports: accuracy and macro F1, and the eval loss as a mean over every example.

The metric is an `evaluate.Metric` defined here, not `evaluate.load("accuracy")`, which fetches
its script from the Hub and fails offline.
"""

import datasets
import evaluate
import numpy as np
import torch
from transformers import EvalPrediction

# The label of rows that only fill a batch (batching.WholeBatchesDataset): torch's cross_entropy
# skips it by default, as Trainer's loss does.
IGNORED_LABEL = -100


class ClassificationMetrics(evaluate.Metric):
    """Accuracy and macro-averaged F1 over integer class ids."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Accuracy and macro-averaged F1 for single-label classification.",
            citation="",
            inputs_description="predictions and references: lists of integer class ids.",
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions: list[int], references: list[int]) -> dict[str, float]:
        predictions = np.asarray(predictions)
        references = np.asarray(references)
        f1_per_class = []
        for label in np.union1d(predictions, references):
            true_positive = np.sum((predictions == label) & (references == label))
            predicted = np.sum(predictions == label)
            actual = np.sum(references == label)
            f1_per_class.append(2 * true_positive / (predicted + actual))
        return {
            "accuracy": float(np.mean(predictions == references)),
            "f1": float(np.mean(f1_per_class)),
        }


def logits_of(predictions: np.ndarray | tuple) -> np.ndarray:
    """The logits among what the model returned (a tuple when it also returns hidden states)."""
    return predictions[0] if isinstance(predictions, tuple) else predictions


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """Trainer's `compute_metrics`: logits -> predicted class -> accuracy and macro F1."""
    logits = logits_of(prediction.predictions)
    real = prediction.label_ids != IGNORED_LABEL
    metric = ClassificationMetrics(keep_in_memory=True)
    return metric.compute(predictions=np.argmax(logits[real], axis=-1), references=prediction.label_ids[real])


def mean_cross_entropy(predictions: np.ndarray | tuple, label_ids: np.ndarray) -> float:
    """The classification loss averaged over every example once, from the gathered logits.

    Trainer's eval_loss averages per-batch losses with each batch counted as a full one: a final
    partial batch is over-weighted, and with several processes it also holds the duplicates that
    pad it to full size. Recomputed here per example, eval_loss (which picks the best checkpoint)
    is the same whatever the batch size and number of processes. Filler rows (`IGNORED_LABEL`) are skipped.
    """
    logits = logits_of(predictions)
    loss = torch.nn.functional.cross_entropy(
        torch.as_tensor(logits, dtype=torch.float32),
        torch.as_tensor(label_ids, dtype=torch.long),
        ignore_index=IGNORED_LABEL,
    )
    return loss.item()


def confusion_matrix(predictions: np.ndarray | tuple, label_ids: np.ndarray, num_labels: int) -> list[list[int]]:
    """Counts of (true label, predicted label), rows by true label: which mistakes one accuracy figure hides."""
    label_ids = np.asarray(label_ids)
    real = label_ids != IGNORED_LABEL
    predicted = np.argmax(logits_of(predictions), axis=-1)
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (label_ids[real], predicted[real]), 1)
    return matrix.tolist()
