"""Accuracy and macro F1 through the `evaluate` library, without the network.

`evaluate.load("accuracy")` fetches its metric script from the Hugging Face Hub, which fails
offline (HF_HUB_OFFLINE=1, Colab without a connection, this project's CI). A metric defined as
an `evaluate.Metric` subclass in the package itself keeps evaluate's API (add_batch, compute,
features validation) and needs nothing from the Hub.
"""

import datasets
import evaluate
import numpy as np
from transformers import EvalPrediction


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


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """Trainer's `compute_metrics`: logits -> predicted class -> accuracy and macro F1."""
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    metric = ClassificationMetrics(keep_in_memory=True)
    return metric.compute(predictions=np.argmax(logits, axis=-1), references=prediction.label_ids)
