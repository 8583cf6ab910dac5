"""The pretrained encoder and its tokenizer: loaded for fine-tuning with a fresh classification head,
or, fine-tuned, for classifying; a name that leads nowhere is one clear `ModelLoadError`."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .config import ModelArguments

T = TypeVar("T")


class ModelLoadError(RuntimeError):
    """The model or tokenizer named on the command line cannot be loaded; the message says what to pass."""


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def is_hub_id(name: str) -> bool:
    """`name` or `owner/name` that is no local path; when `owner` is a local directory,
    `owner/name` was meant as a directory inside it."""
    path = Path(name)
    if path.exists() or HUB_ID.match(name) is None:
        return False
    return "/" not in name or not path.parent.is_dir()


def loaded(name: str, load: Callable[[], T]) -> T:
    """`load()`, with a missing directory or an unknown Hub id turned into one line naming `name`."""
    if not is_hub_id(name) and not Path(name).expanduser().is_dir():
        raise ModelLoadError(
            f"{name}: no such model directory. Pass a directory written by save_pretrained (nsmc-train's "
            "--output_dir), or a Hugging Face Hub model id such as beomi/kcbert-base"
        )
    try:
        return load()
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(
            f"{name}: cannot load this model ({reason}). Pass a model directory, or a Hub model id that exists "
            "(check its spelling, your connection or HF_HUB_OFFLINE, and --token for a private model)"
        ) from None


def load_tokenizer(model_args: ModelArguments) -> PreTrainedTokenizerBase:
    """The fast (Rust) tokenizer: batched `map` relies on its speed."""
    name = model_args.tokenizer_name or model_args.model_name_or_path
    return loaded(
        name,
        lambda: AutoTokenizer.from_pretrained(
            name,
            cache_dir=model_args.cache_dir,
            revision=model_args.model_revision,
            token=model_args.token,
            use_fast=True,
        ),
    )


def load_model(model_args: ModelArguments, label_names: list[str]) -> PreTrainedModel:
    """id2label/label2id go into the config, so that a saved model predicts "negative"/"positive"."""
    return loaded(
        model_args.model_name_or_path,
        lambda: AutoModelForSequenceClassification.from_pretrained(
            model_args.model_name_or_path,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={name: index for index, name in enumerate(label_names)},
            cache_dir=model_args.cache_dir,
            revision=model_args.model_revision,
            token=model_args.token,
        ),
    )


def resolve_device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def load_classifier(
    model_dir_or_id: str, device: str | None = None, token: str | None = None
) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """A fine-tuned classifier and its tokenizer, ready for inference on `device`."""
    model = loaded(model_dir_or_id, lambda: AutoModelForSequenceClassification.from_pretrained(model_dir_or_id, token=token))
    tokenizer = loaded(model_dir_or_id, lambda: AutoTokenizer.from_pretrained(model_dir_or_id, token=token))
    return tokenizer, model.to(resolve_device(device)).eval()
