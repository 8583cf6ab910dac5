"""From logits to labels: the one place where softmax, argmax and `id2label` meet, used by training's
predictions file, the smoke test, `nsmc-predict` and the demo server."""

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from tqdm import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .config import MAX_SEQ_LENGTH
from .model import load_classifier

DEFAULT_BATCH_SIZE = 32


def label_scores(logits: np.ndarray | torch.Tensor, id2label: Mapping[int, str]) -> list[dict[str, Any]]:
    """One {label, score, probabilities} per row of logits: the most probable label, its probability,
    and every label's."""
    probabilities = torch.as_tensor(logits).float().softmax(dim=-1).cpu().tolist()
    results = []
    for row in probabilities:
        best = max(range(len(row)), key=row.__getitem__)
        results.append(
            {
                "label": id2label[best],
                "score": row[best],
                "probabilities": {id2label[index]: value for index, value in enumerate(row)},
            }
        )
    return results


def classify(
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    model: PreTrainedModel,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_seq_length: int = MAX_SEQ_LENGTH,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """`label_scores` of every text, in input order; texts are batched by length, so each batch is
    padded to little more than its own longest text."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    results: list[dict[str, Any]] = [{} for _ in texts]
    bar = tqdm(total=len(texts), unit="text", file=sys.stderr, disable=not progress or len(texts) <= batch_size)
    with torch.inference_mode(), bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=max_seq_length,
                return_tensors="pt",
            ).to(model.device)
            for i, result in zip(batch, label_scores(model(**inputs).logits, model.config.id2label), strict=True):
                results[i] = result
            bar.update(len(batch))
    return results


def predict(
    texts: list[str],
    model_dir_or_id: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    max_seq_length: int = MAX_SEQ_LENGTH,
    token: str | None = None,
) -> list[dict[str, Any]]:
    """Load the model (a local directory or Hub repo id) and classify `texts`."""
    tokenizer, model = load_classifier(model_dir_or_id, device=device, token=token)
    return classify(texts, tokenizer, model, batch_size=batch_size, max_seq_length=max_seq_length)
