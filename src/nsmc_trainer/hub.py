"""Publish a trained NSMC classifier: write its model card, upload its output directory to the Hub.

Training may have run for hours before the push, so a failed push must never cost the model: every
failure becomes a `PushError` saying what went wrong and how to retry later with `nsmc-push`, and
nothing in the output directory is changed by pushing.
"""

import argparse
import fnmatch
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData, get_token
from huggingface_hub.errors import HfHubHTTPError

try:  # huggingface_hub 2.x speaks httpx2, 1.x httpx: network failures surface as their TransportError
    from httpx2 import TransportError
except ImportError:
    from httpx import TransportError

DATASET_ID = "nsmc"
DATASET_NAME = "NSMC (Naver Sentiment Movie Corpus)"
DEFAULT_TAGS = ("text-classification", "sentiment-analysis", "korean", "bert", "nsmc")
# Only what is needed to use and judge the model. training_args.bin is left out on purpose: it is
# a pickle of TrainingArguments, which holds --hub_token in clear text; checkpoint-*/ and runs/ are
# training by-products that would multiply the upload size.
UPLOAD_PATTERNS = (
    "*.safetensors",
    "*.safetensors.index.json",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "chat_template.jinja",
    "README.md",
    "*results.json",
    "trainer_state.json",
)
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


class PushError(RuntimeError):
    """The push failed; the model in the output directory is intact and can be pushed again."""


def hyperparameters_from_args(training_args: Any, max_seq_length: int) -> dict[str, Any]:
    """The card's hyperparameters from NsmcTrainingArguments, so train.py need not restate them.

    Only named, non-secret fields are read: TrainingArguments also carries hub_token.
    """
    gamma = getattr(training_args, "lr_decay_gamma", 0.9)
    world_size = getattr(training_args, "world_size", 1)
    return {
        "learning_rate": training_args.learning_rate,
        "lr_scheduler": f"ExponentialLR gamma {gamma} per epoch",
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
    max_seq_length = int(hyperparameters.get("max_seq_length", 128))
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


def files_to_upload(output_dir: str | Path) -> list[Path]:
    """The top-level files of the output directory that belong in the model repo."""
    return sorted(
        p
        for p in Path(output_dir).iterdir()
        if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in UPLOAD_PATTERNS)
    )


def _contains(path: Path, needle: bytes, chunk_size: int = 1 << 22) -> bool:
    """Streams the file, since weights can be gigabytes; the tail carried over catches a split needle."""
    tail = b""
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) :]
    return False


def _check_no_token(files: Sequence[Path], token: str) -> None:
    """Refuses before anything leaves the machine: a token in a public repo is a leaked token."""
    for path in files:
        if _contains(path, token.encode()):
            raise PushError(f"Refusing to push: {path} contains the Hugging Face token. Remove it and push again.")


def _retry_hint(output_dir: Path, hub_model_id: str) -> str:
    return (
        f"The model is saved in {output_dir}; push it later with:\n"
        f"  nsmc-push {output_dir} --hub_model_id {hub_model_id}"
    )


def _explain(err: BaseException, endpoint: str, repo_id: str) -> str:
    """A message that names the cause; huggingface_hub wraps transport errors of LFS uploads."""
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, (TransportError, HfHubHTTPError)):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, TransportError):
        return f"Could not reach the Hugging Face Hub at {endpoint} ({type(cause).__name__}: {cause})."
    if isinstance(cause, HfHubHTTPError):
        status = cause.response.status_code
        detail = cause.server_message or str(cause).strip().splitlines()[0]
        if status == 401:
            return (
                f"The Hub at {endpoint} rejected the token (401 Unauthorized: {detail}). "
                "Pass a valid write token with --token, set HF_TOKEN, or run `hf auth login`."
            )
        if status == 403:
            return (
                f"The Hub at {endpoint} refused the push to {repo_id} (403 Forbidden: {detail}). "
                f"The token needs write access to the '{repo_id.split('/')[0]}' namespace."
            )
        return f"The Hub at {endpoint} rejected the push to {repo_id} (HTTP {status}: {detail})."
    return f"The push to {repo_id} at {endpoint} failed: {err}"


@contextmanager
def _failures_explained(endpoint: str, output_dir: Path, hub_model_id: str) -> Iterator[None]:
    """Turns what huggingface_hub raises into a PushError that says what to do next."""
    try:
        yield
    except PushError:
        raise
    except (TransportError, HfHubHTTPError, ValueError, RuntimeError) as err:
        message = _explain(err, endpoint, hub_model_id) + "\n" + _retry_hint(output_dir, hub_model_id)
        raise PushError(message) from err


def push_output_dir(
    output_dir: str | Path,
    hub_model_id: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload NSMC sentiment classifier",
) -> str:
    """Creates the repo if needed, uploads the model files of `output_dir`, returns the repo URL.

    A new repo is private only with `private=True`. An existing repo keeps its visibility, so a
    private push into an existing public repo is refused rather than silently published.
    """
    output_dir = Path(output_dir)
    files = files_to_upload(output_dir)
    if not any(p.suffix == ".safetensors" for p in files):
        raise PushError(f"No model weights (*.safetensors) in {output_dir}: nothing to push.")
    token = token or get_token()
    if token is None:
        raise PushError(
            "No Hugging Face token: pass --token, set HF_TOKEN, or run `hf auth login`.\n"
            + _retry_hint(output_dir, hub_model_id)
        )
    _check_no_token(files, token)
    api = HfApi(token=token)
    with _failures_explained(api.endpoint, output_dir, hub_model_id):
        repo_url = api.create_repo(hub_model_id, private=private, exist_ok=True)
        if private and not api.repo_info(repo_url.repo_id).private:
            raise PushError(
                f"{repo_url.repo_id} already exists on {api.endpoint} and is public, but a private push was asked "
                "for: make the repo private on the Hub first, or push without --private."
            )
        api.upload_folder(
            repo_id=repo_url.repo_id,
            folder_path=output_dir,
            allow_patterns=[p.name for p in files],
            commit_message=commit_message,
        )
    return str(repo_url)


@dataclass
class PushRequest:
    """What `--push_to_hub` asked for, held outside the training arguments."""

    hub_model_id: str
    token: str | None
    private: bool | None


def take_push_request(training_args: Any) -> PushRequest | None:
    """Take the push out of Trainer's hands and the token out of the training arguments.

    Trainer would create the repo at start and upload every checkpoint with training_args.bin,
    a pickle of these arguments, token included. Instead the best model is pushed once, at the
    end, by `push_output_dir` (the code `nsmc-push` retries with), and the token lives only here.
    """
    request = None
    if training_args.push_to_hub:
        request = PushRequest(
            hub_model_id=training_args.hub_model_id or Path(training_args.output_dir).resolve().name,
            token=training_args.hub_token or get_token(),
            private=training_args.hub_private_repo,
        )
    training_args.push_to_hub = False
    training_args.hub_token = None
    return request


def check_push_access(request: PushRequest) -> None:
    """Fail before hours of training, not after, when the token is missing or refused."""
    if request.token is None:
        raise PushError(
            "--push_to_hub needs a Hugging Face token: pass --hub_token, set HF_TOKEN, or run `hf auth login`."
        )
    api = HfApi(token=request.token)
    try:
        api.whoami()
    except (TransportError, HfHubHTTPError) as err:
        raise PushError(
            _explain(err, api.endpoint, request.hub_model_id)
            + "\nFix this, or train without --push_to_hub and push afterwards with nsmc-push."
        ) from err


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nsmc-push",
        description="Upload a trained NSMC model (the --output_dir of training) to the Hugging Face Hub.",
    )
    parser.add_argument("output_dir", type=Path, help="Training output directory with model.safetensors etc.")
    parser.add_argument("--hub_model_id", required=True, help="Target repo, e.g. username/kcbert-nsmc.")
    parser.add_argument("--private", action="store_true", help="Create the repo as private.")
    parser.add_argument("--token", default=None, help="Hub write token (default: HF_TOKEN or `hf auth login`).")
    parser.add_argument("--commit_message", default="Upload NSMC sentiment classifier")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.output_dir / "README.md").is_file():
        print(f"warning: {args.output_dir} has no README.md; the repo will have no model card.", file=sys.stderr)
    try:
        url = push_output_dir(
            args.output_dir,
            args.hub_model_id,
            token=args.token,
            private=True if args.private else None,
            commit_message=args.commit_message,
        )
    except PushError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
