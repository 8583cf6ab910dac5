"""The model card (README.md in --output_dir): Hub metadata with the model-index, and a body in
Korean and English with results, hyperparameters and usage."""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .config import MAX_SEQ_LENGTH
from .schedule import describe_schedule

DATASET_ID = "nsmc"
DATASET_NAME = "NSMC (Naver Sentiment Movie Corpus)"
DEFAULT_TAGS = ("text-classification", "sentiment-analysis", "korean", "bert", "nsmc")
RESULTS_FILES = ("all_results.json", "eval_results.json")
# The metrics of the model-index: Hub metric ids and their display names.
METRIC_NAMES = {"accuracy": "Accuracy", "f1": "F1"}
# Labels for the hyperparameters train.py reports, in the order a reader expects them.
HYPERPARAMETER_LABELS = {
    "learning_rate": "Learning rate",
    "lr_scheduler": "LR schedule",
    "optimizer": "Optimizer",
    "weight_decay": "Weight decay",
    "train_batch_size": "Train batch size (per device)",
    "eval_batch_size": "Eval batch size (per device)",
    "gradient_accumulation_steps": "Gradient accumulation steps",
    "total_train_batch_size": "Total train batch size",
    "num_epochs": "Epochs",
    "seed": "Seed",
    "max_seq_length": "Max sequence length",
}
EXAMPLE_REVIEW = "아 더빙.. 진짜 짜증나네요 목소리"


def hyperparameters_from_args(training_args: Any, max_seq_length: int) -> dict[str, Any]:
    """The card's hyperparameters from NsmcTrainingArguments, so train.py need not restate them.

    Only named, non-secret fields are read: TrainingArguments also carries hub_token.
    """
    gamma = getattr(training_args, "lr_decay_gamma", 0.9)
    world_size = getattr(training_args, "world_size", 1)
    return {
        "learning_rate": training_args.learning_rate,
        "lr_scheduler": describe_schedule(gamma),
        "optimizer": "AdamW",
        "weight_decay": training_args.weight_decay,
        "train_batch_size": training_args.per_device_train_batch_size,
        "eval_batch_size": training_args.per_device_eval_batch_size,
        "gradient_accumulation_steps": training_args.gradient_accumulation_steps,
        "total_train_batch_size": training_args.per_device_train_batch_size
        * training_args.gradient_accumulation_steps
        * world_size,
        "num_epochs": training_args.num_train_epochs,
        "seed": training_args.seed,
        "max_seq_length": max_seq_length,
    }


def load_eval_results(output_dir: str | Path) -> dict[str, Any]:
    """The eval metrics Trainer saved (all_results.json, else eval_results.json); {} if none."""
    for name in RESULTS_FILES:
        path = Path(output_dir) / name
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return {}


def _metric(eval_results: Mapping[str, Any], name: str) -> float | None:
    value = eval_results.get(f"eval_{name}", eval_results.get(name))
    return float(value) if value is not None else None


def _is_hub_id(model_name_or_path: str) -> bool:
    """base_model in the metadata must name a Hub repo; a local path would be rejected there."""
    parts = model_name_or_path.split("/")
    return len(parts) == 2 and all(parts) and not Path(model_name_or_path).exists()


def _format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _card_data(
    model_name: str, base_model: str, license: str, tags: Sequence[str], eval_results: Mapping[str, Any]
) -> ModelCardData:
    metrics = [(name, _metric(eval_results, name)) for name in METRIC_NAMES]
    results = [
        EvalResult(
            task_type="text-classification",
            task_name="Sentiment Analysis",
            dataset_type=DATASET_ID,
            dataset_name=DATASET_NAME,
            dataset_split="test",
            metric_type=name,
            metric_name=METRIC_NAMES[name],
            metric_value=round(value, 4),
        )
        for name, value in metrics
        if value is not None
    ]
    return ModelCardData(
        language="ko",
        license=license,
        library_name="transformers",
        datasets=[DATASET_ID],
        metrics=[name for name, value in metrics if value is not None] or None,
        pipeline_tag="text-classification",
        base_model=base_model if _is_hub_id(base_model) else None,
        tags=list(tags),
        model_name=model_name,
        eval_results=results or None,
    )


def _results_section(eval_results: Mapping[str, Any]) -> str:
    rows = [
        f"| {label} | {value:.4f} |"
        for label, value in (
            ("Accuracy", _metric(eval_results, "accuracy")),
            ("F1", _metric(eval_results, "f1")),
            ("Loss", _metric(eval_results, "loss")),
        )
        if value is not None
    ]
    if not rows:
        return "No evaluation results were recorded for this run.\n"
    samples = eval_results.get("eval_samples")
    where = f"the NSMC test set ({samples:,} reviews)" if samples else "the NSMC test set"
    epoch = eval_results.get("epoch")
    when = f", after epoch {_format_value(float(epoch))}" if epoch is not None else ""
    return f"Evaluated on {where}{when}.\n\n| Metric | Value |\n|---|---|\n" + "\n".join(rows) + "\n"


def _hyperparameters_section(hyperparameters: Mapping[str, Any]) -> str:
    # A key naming a token is dropped, whatever its value: the card is public.
    params = {k: v for k, v in hyperparameters.items() if "token" not in k.lower()}
    ordered = [k for k in HYPERPARAMETER_LABELS if k in params] + [k for k in params if k not in HYPERPARAMETER_LABELS]
    rows = [f"| {HYPERPARAMETER_LABELS.get(k, k)} | {_format_value(params[k])} |" for k in ordered]
    return "| Hyperparameter | Value |\n|---|---|\n" + "\n".join(rows) + "\n"


def _usage_section(model_ref: str, max_seq_length: int) -> str:
    return f"""```python
from transformers import pipeline

classifier = pipeline("text-classification", model="{model_ref}")
print(classifier("{EXAMPLE_REVIEW}"))
```

```python
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{model_ref}")
model = AutoModelForSequenceClassification.from_pretrained("{model_ref}").eval()
inputs = tokenizer(["{EXAMPLE_REVIEW}", "정말 재미있어요"], padding=True, truncation=True,
                   max_length={max_seq_length}, return_tensors="pt")
with torch.no_grad():
    probs = model(**inputs).logits.softmax(dim=-1)
print([model.config.id2label[i] for i in probs.argmax(dim=-1).tolist()])
```

From the command line (this project's `nsmc-predict`):

```bash
nsmc-predict --model {model_ref} "{EXAMPLE_REVIEW}"
```
"""


def write_model_card(
    output_dir: str | Path,
    *,
    base_model: str,
    hyperparameters: Mapping[str, Any],
    eval_results: Mapping[str, Any] | None = None,
    model_name: str | None = None,
    hub_model_id: str | None = None,
    license: str = "mit",
    tags: Sequence[str] = DEFAULT_TAGS,
) -> Path:
    """Writes OUTPUT_DIR/README.md, the Hub model card, and returns its path.

    `eval_results` defaults to the all_results.json Trainer saved in the directory; its
    eval_accuracy and eval_f1 become the card's model-index so the Hub shows them.
    """
    output_dir = Path(output_dir)
    if eval_results is None:
        eval_results = load_eval_results(output_dir)
    model_name = model_name or (hub_model_id.split("/")[-1] if hub_model_id else output_dir.resolve().name)
    base_ref = f"[{base_model}](https://huggingface.co/{base_model})" if _is_hub_id(base_model) else f"`{base_model}`"
    max_seq_length = int(hyperparameters.get("max_seq_length", MAX_SEQ_LENGTH))
    data = _card_data(model_name, base_model, license, tags, eval_results)
    body = f"""
# {model_name}

{base_ref} 모델을 [NSMC](https://github.com/e9t/nsmc)(네이버 영화 리뷰 감성 분석 말뭉치)로
미세조정한 한국어 감성 분류 모델입니다. 영화 리뷰 한 문장을 부정(`negative`, 0) 또는
긍정(`positive`, 1)으로 분류합니다.

This is {base_ref} fine-tuned on [NSMC](https://github.com/e9t/nsmc), the Naver Sentiment Movie
Corpus, for Korean binary sentiment classification: it labels a movie review as `negative` (0) or
`positive` (1). Reviews are truncated to {max_seq_length} tokens.

## Evaluation results / 평가 결과

{_results_section(eval_results)}
## Training hyperparameters / 학습 설정

{_hyperparameters_section(hyperparameters)}
## Usage / 사용법

{_usage_section(hub_model_id or str(output_dir), max_seq_length)}"""
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
    path = output_dir / "README.md"
    card.save(path)
    return path
