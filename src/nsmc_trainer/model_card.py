"""The model card (README.md in --output_dir): Hub metadata with the model-index of the data really
evaluated, and a body in Korean and English with results per epoch, learning curves, a confusion
matrix, hyperparameters, usage, limitations, framework versions and citations."""

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .config import MAX_SEQ_LENGTH, DataArguments
from .curves import CURVES_FILE
from .evaluation import CONFUSION_MATRIX_FILE
from .history import best_index, epoch_results, read_log_history
from .model import is_hub_id
from .schedule import describe_schedule

logger = logging.getLogger(__name__)

DATASET_ID = "nsmc"
DATASET_NAME = "NSMC (Naver Sentiment Movie Corpus)"
DEFAULT_TAGS = ("text-classification", "sentiment-analysis", "korean", "bert", "nsmc")
# Tags that hold for any Korean corpus; the sentiment and NSMC ones only for NSMC.
OWN_CORPUS_TAGS = ("text-classification", "korean", "bert")
# The packages whose versions the card lists, as the Hub's Trainer cards do, and their display names.
FRAMEWORKS = {
    "transformers": "Transformers",
    "torch": "PyTorch",
    "datasets": "Datasets",
    "tokenizers": "Tokenizers",
    "accelerate": "Accelerate",
}
CURVES_HEADING = "## Learning curves / 학습 곡선"
# A Hub cache snapshot directory names its repo: .../models--beomi--kcbert-base/snapshots/<sha>
HUB_CACHE_DIR = re.compile(r"models--([\w.-]+)--([\w.-]+)")
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


def card_metric(readme: Path, name: str) -> float | None:
    """A metric of a model card's model-index, as the Hub shows it; None when the card has none or
    cannot be read (a card written elsewhere may not follow the Hub's format)."""
    try:
        card = ModelCard.load(readme)
    except (OSError, ValueError) as error:
        logger.warning("could not read the model card %s: %s", readme, error)
        return None
    return next(
        (float(result.metric_value) for result in card.data.eval_results or [] if result.metric_type == name), None
    )


def metric_value(eval_results: Mapping[str, Any], name: str) -> float | None:
    """A metric from Trainer's results files, saved with its `eval_` prefix or without."""
    value = eval_results.get(f"eval_{name}", eval_results.get(name))
    return float(value) if value is not None else None


@dataclass(frozen=True)
class EvaluatedData:
    """What the final evaluation ran on: a split of NSMC, or the user's own file (`file` is its name)."""

    split: str = "test"
    file: str | None = None

    @property
    def is_nsmc(self) -> bool:
        return self.file is None


NSMC_TEST = EvaluatedData()


def evaluated_data(data_args: DataArguments, eval_split: str) -> EvaluatedData:
    """NSMC's split, or the name of the user's file that the evaluation split was read from."""
    if not data_args.train_file:
        return EvaluatedData(split=eval_split)
    path = data_args.validation_file if eval_split == "validation" else data_args.test_file
    return EvaluatedData(split=eval_split, file=Path(path).name)


def _is_hub_id(model_name_or_path: str) -> bool:
    """base_model in the metadata must name a Hub repo as `owner/name`; a local path would be rejected there."""
    return "/" in model_name_or_path and is_hub_id(model_name_or_path)


def base_model_id(model_name_or_path: str) -> str | None:
    """The Hub id of the base model, also for a local copy: the `_name_or_path` its config was saved
    with, or the repo a Hub cache snapshot belongs to. None rather than a local path."""
    if _is_hub_id(model_name_or_path):
        return model_name_or_path
    config = Path(model_name_or_path) / "config.json"
    if config.is_file():
        saved_from = json.loads(config.read_text(encoding="utf-8")).get("_name_or_path", "")
        if _is_hub_id(saved_from):
            return saved_from
    match = HUB_CACHE_DIR.search(Path(model_name_or_path).resolve().as_posix())
    return f"{match[1]}/{match[2]}" if match else None


def _format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _dataset_name(evaluated: EvaluatedData, eval_results: Mapping[str, Any]) -> str:
    if evaluated.is_nsmc:
        return DATASET_NAME
    samples = eval_results.get("eval_samples")
    return f"{evaluated.file} ({samples:,} examples)" if samples else str(evaluated.file)


def _card_data(
    model_name: str,
    base_model: str | None,
    license: str,
    tags: Sequence[str],
    eval_results: Mapping[str, Any],
    evaluated: EvaluatedData,
) -> ModelCardData:
    metrics = [(name, metric_value(eval_results, name)) for name in METRIC_NAMES]
    results = [
        EvalResult(
            task_type="text-classification",
            task_name="Sentiment Analysis" if evaluated.is_nsmc else "Text Classification",
            dataset_type=DATASET_ID if evaluated.is_nsmc else str(evaluated.file),
            dataset_name=_dataset_name(evaluated, eval_results),
            dataset_split=evaluated.split,
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
        datasets=[DATASET_ID] if evaluated.is_nsmc else None,
        metrics=[name for name, value in metrics if value is not None] or None,
        pipeline_tag="text-classification",
        base_model=base_model,
        tags=list(tags),
        model_name=model_name,
        eval_results=results or None,
    )


def _results_section(eval_results: Mapping[str, Any], evaluated: EvaluatedData) -> str:
    rows = [
        f"| {label} | {value:.4f} |"
        for label, value in (
            ("Accuracy", metric_value(eval_results, "accuracy")),
            ("F1", metric_value(eval_results, "f1")),
            ("Loss", metric_value(eval_results, "loss")),
        )
        if value is not None
    ]
    if not rows:
        return "No evaluation results were recorded for this run.\n"
    samples = eval_results.get("eval_samples")
    data = f"the NSMC {evaluated.split} set" if evaluated.is_nsmc else f"`{evaluated.file}` (the {evaluated.split} split)"
    where = f"{data} ({samples:,} {'reviews' if evaluated.is_nsmc else 'examples'})" if samples else data
    epoch = eval_results.get("epoch")
    when = ""
    if epoch is not None:
        when = f", after epoch {_format_value(float(epoch))} of training, with the run's best checkpoint"
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


def _epochs_section(output_dir: Path, metric: str, greater_is_better: bool) -> str:
    """Trainer's per-epoch table, as the Hub's automatic cards show it."""
    log_history = read_log_history(output_dir)
    results = epoch_results(log_history)
    if not results:
        return ""
    rows = [
        f"| {_number_cell(r.training_loss)} | {_format_value(r.epoch)} | {r.step} | {r.eval_loss:.4f} | "
        f"{_number_cell(r.accuracy)} |"
        for r in results
    ]
    best_at = best_index(log_history, metric, greater_is_better)
    kept = (
        f"This model is the checkpoint of epoch {_format_value(results[best_at].epoch)} (step {results[best_at].step}), "
        f"the best by `{metric}`.\n\n"
        if best_at is not None
        else ""
    )
    return (
        "## Training results / 에폭별 결과\n\n"
        "Training loss is the mean over the epoch's logged steps; validation loss and accuracy are measured "
        "after each epoch.\n\n"
        "| Training Loss | Epoch | Step | Validation Loss | Accuracy |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\n"
        + kept
    )


def _number_cell(value: float | None) -> str:
    return "No log" if value is None else f"{value:.4f}"


def curves_section() -> str:
    return (
        f"{CURVES_HEADING}\n\n"
        f"![Training loss per logged step, eval loss and accuracy per epoch, learning rate; the best epoch marked]"
        f"({CURVES_FILE})\n\n"
    )


def _confusion_section(output_dir: Path) -> str:
    """The counts behind the accuracy, from the final evaluation (evaluation.py)."""
    path = output_dir / CONFUSION_MATRIX_FILE
    if not path.is_file():
        return ""
    record = json.loads(path.read_text(encoding="utf-8"))
    labels = record["labels"]
    header = "| true \\ predicted | " + " | ".join(f"`{label}`" for label in labels) + " |"
    rule = "|---" * (len(labels) + 1) + "|"
    rows = [
        f"| `{label}` | " + " | ".join(f"{count:,}" for count in counts) + " |"
        for label, counts in zip(labels, record["matrix"])
    ]
    return (
        f"Confusion matrix of the final evaluation ({record['split']} split; rows: true label, columns: "
        "predicted label):\n\n" + "\n".join([header, rule, *rows]) + "\n"
    )


def _limitations_section(evaluated: EvaluatedData, max_seq_length: int) -> str:
    if evaluated.is_nsmc:
        data = (
            "It was trained and evaluated on Naver movie reviews only (NSMC: short, informal, at most 140 characters, "
            "reviews rated 1-4 as negative and 9-10 as positive, neutral ones left out)."
        )
        korean = (
            "네이버 영화 리뷰(140자 이하, 평점 1-4 부정 · 9-10 긍정, 중립 리뷰 제외)로만 학습 · 평가했습니다. "
            "다른 분야의 글, 중립 문장, 다른 언어에서는 정확도가 낮을 수 있습니다."
        )
    else:
        data = f"It was evaluated on `{evaluated.file}` only."
        korean = f"`{evaluated.file}`로만 평가했습니다. 다른 종류의 글에서는 정확도가 다를 수 있습니다."
    return f"""{korean}

- **Intended use**: classifying Korean text like its training data, for learning and experiments.
  {data}
- **Not tested on**: other domains (news, product reviews, social media), neutral or mixed opinions,
  sarcasm, other languages, and text longer than {max_seq_length} tokens, which is truncated.
- It always answers with one of its labels, however unlike its training data the input is; the score
  is not a calibrated probability.
"""


def _framework_versions() -> str:
    lines = []
    for package, name in FRAMEWORKS.items():
        try:
            lines.append(f"- {name} {version(package)}")
        except PackageNotFoundError:
            continue
    return "\n".join(lines) + "\n"


CITATIONS = """```bibtex
@misc{park2016nsmc,
  author       = {Lucy Park},
  title        = {Naver Sentiment Movie Corpus},
  year         = {2016},
  howpublished = {\\url{https://github.com/e9t/nsmc}}
}

@inproceedings{lee2020kcbert,
  author    = {Junbum Lee},
  title     = {KcBERT: Korean comments BERT},
  booktitle = {Proceedings of the 32nd Annual Conference on Human and Cognitive Language Technology (HCLT 2020)},
  year      = {2020}
}
```
"""


def _intro(base_ref: str, evaluated: EvaluatedData, labels: Sequence[str], max_seq_length: int) -> str:
    if evaluated.is_nsmc:
        return f"""{base_ref} 모델을 [NSMC](https://github.com/e9t/nsmc)(네이버 영화 리뷰 감성 분석 말뭉치)로
미세조정한 한국어 감성 분류 모델입니다. 영화 리뷰 한 문장을 부정(`negative`, 0) 또는
긍정(`positive`, 1)으로 분류합니다.

This is {base_ref} fine-tuned on [NSMC](https://github.com/e9t/nsmc), the Naver Sentiment Movie
Corpus, for Korean binary sentiment classification: it labels a movie review as `negative` (0) or
`positive` (1). Reviews are truncated to {max_seq_length} tokens.
"""
    names = ", ".join(f"`{label}`" for label in labels)
    return f"""{base_ref} 모델을 직접 만든 데이터로 미세조정한 한국어 문장 분류 모델입니다 (레이블: {names}).

This is {base_ref} fine-tuned on the author's own data for Korean text classification into {names}.
Texts are truncated to {max_seq_length} tokens.
"""


def _labels(output_dir: Path) -> list[str]:
    config = output_dir / "config.json"
    if not config.is_file():
        return []
    id2label = json.loads(config.read_text(encoding="utf-8")).get("id2label", {})
    return [id2label[key] for key in sorted(id2label, key=int)]


def write_model_card(
    output_dir: str | Path,
    *,
    base_model: str,
    hyperparameters: Mapping[str, Any],
    eval_results: Mapping[str, Any] | None = None,
    model_name: str | None = None,
    hub_model_id: str | None = None,
    license: str = "mit",
    tags: Sequence[str] | None = None,
    evaluated: EvaluatedData = NSMC_TEST,
    metric_for_best_model: str = "eval_loss",
    greater_is_better: bool = False,
) -> Path:
    """Writes OUTPUT_DIR/README.md, the Hub model card, and returns its path.

    `eval_results` defaults to the all_results.json Trainer saved in the directory; its
    eval_accuracy and eval_f1 become the card's model-index so the Hub shows them. The per-epoch
    table, the learning curves and the confusion matrix come from the files of the run in
    `output_dir`, each left out when its file is not there.
    """
    output_dir = Path(output_dir)
    if eval_results is None:
        eval_results = load_eval_results(output_dir)
    if tags is None:
        tags = DEFAULT_TAGS if evaluated.is_nsmc else OWN_CORPUS_TAGS
    model_name = model_name or (hub_model_id.split("/")[-1] if hub_model_id else output_dir.resolve().name)
    base_id = base_model_id(base_model)
    base_ref = f"[{base_id}](https://huggingface.co/{base_id})" if base_id else f"`{Path(base_model).name}` (a local model)"
    max_seq_length = int(hyperparameters.get("max_seq_length", MAX_SEQ_LENGTH))
    data = _card_data(model_name, base_id, license, tags, eval_results, evaluated)
    curves = curves_section() if (output_dir / CURVES_FILE).is_file() else ""
    body = f"""
# {model_name}

{_intro(base_ref, evaluated, _labels(output_dir), max_seq_length)}
## Evaluation results / 평가 결과

{_results_section(eval_results, evaluated)}
{_confusion_section(output_dir)}
{_epochs_section(output_dir, metric_for_best_model, greater_is_better)}{curves}## Training hyperparameters / 학습 설정

{_hyperparameters_section(hyperparameters)}
## Usage / 사용법

{_usage_section(hub_model_id or str(output_dir), max_seq_length)}
## Intended uses and limitations / 용도와 한계

{_limitations_section(evaluated, max_seq_length)}
## Framework versions / 프레임워크 버전

{_framework_versions()}
## Citation / 인용

{CITATIONS}"""
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
    path = output_dir / "README.md"
    card.save(path)
    return path


def add_curves_to_card(output_dir: str | Path) -> bool:
    """Put the learning curves into a card written before they existed (`nsmc-push` draws them late)."""
    readme = Path(output_dir) / "README.md"
    if not readme.is_file() or not (Path(output_dir) / CURVES_FILE).is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    marker = "## Training hyperparameters"
    if CURVES_HEADING in text or marker not in text:
        return False
    readme.write_text(text.replace(marker, curves_section() + marker, 1), encoding="utf-8")
    return True
