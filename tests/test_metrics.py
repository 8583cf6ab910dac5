"""Accuracy and macro F1 come from evaluate without reaching the Hub."""

import os
import subprocess
import sys

SCRIPT = """
import numpy as np
from transformers import EvalPrediction
from nsmc_trainer.metrics import compute_metrics
logits = np.array([[2.0, 0.1], [0.3, 0.9], [0.2, 0.1], [0.0, 1.0]])
print(compute_metrics(EvalPrediction(predictions=logits, label_ids=np.array([0, 1, 1, 1]))))
"""


def test_metrics_work_with_the_hub_offline():
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_EVALUATE_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    metrics = eval(result.stdout.strip().splitlines()[-1])
    assert metrics["accuracy"] == 0.75
    # class 0: precision 1/2, recall 1 -> 2/3; class 1: precision 1, recall 2/3 -> 4/5
    assert abs(metrics["f1"] - (2 / 3 + 4 / 5) / 2) < 1e-9
