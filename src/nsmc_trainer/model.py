"""The pretrained encoder and its tokenizer: loaded for fine-tuning with a fresh classification head,
or, fine-tuned, for classifying; a name that leads nowhere is one clear `ModelLoadError`."""

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .config import ModelArguments

T = TypeVar("T")

logger = logging.getLogger(__name__)

# transformers' table of missing and unexpected weights, and where it is logged.
LOAD_REPORT_LOGGER = "transformers.modeling_utils"
LOAD_REPORT_FUNCTION = "log_state_dict_report"


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


def _not_load_report(record: logging.LogRecord) -> bool:
    return record.funcName != LOAD_REPORT_FUNCTION


@contextmanager
def load_report_replaced() -> Iterator[None]:
    """Without transformers' LOAD REPORT, a warning table that names the classification head as
    MISSING on every fine-tuning run, when a new head is exactly what is expected; `describe_loading`
    says it in a sentence instead. The table still shows at `--log_level debug`."""
    report_logger = logging.getLogger(LOAD_REPORT_LOGGER)
    if report_logger.isEnabledFor(logging.DEBUG):
        yield
        return
    report_logger.addFilter(_not_load_report)
    try:
        yield
    finally:
        report_logger.removeFilter(_not_load_report)


def _weight_groups(keys: set[str]) -> str:
    """`cls.predictions.bias, cls.predictions.decoder.weight` -> `cls.predictions.*` (2 weights)."""
    prefixes = sorted({".".join(key.split(".")[:2]) for key in keys})
    return ", ".join(f"{prefix}.*" for prefix in prefixes) + f" ({len(keys)} weights)"


def describe_loading(model: PreTrainedModel, name: str, loading_info: dict[str, Any]) -> None:
    """Logs what was loaded, and warns when pretrained weights are missing outside the new head."""
    parameters = sum(parameter.numel() for parameter in model.parameters())
    encoder = f"{model.base_model_prefix}."
    head = sorted(key for key in loading_info["missing_keys"] if not key.startswith(encoder))
    missing = {key for key in loading_info["missing_keys"] if key.startswith(encoder)}
    missing |= {key for key, *_ in loading_info["mismatched_keys"]}
    logger.info(
        "Model: %s (%s, %s parameters). Newly initialised, as expected: the classification head (%s), "
        "which fine-tuning trains from the labels%s",
        name,
        type(model).__name__,
        f"{parameters:,}",
        ", ".join(head) or "none",
        f"; not used: {_weight_groups(loading_info['unexpected_keys'])} of pretraining"
        if loading_info["unexpected_keys"]
        else "",
    )
    if missing:
        logger.warning(
            "%s lacks pretrained weights for %s: they start random. Is it the pretrained model you meant?",
            name,
            _weight_groups(missing),
        )


def load_model(model_args: ModelArguments, label_names: list[str]) -> PreTrainedModel:
    """id2label/label2id go into the config, so that a saved model predicts "negative"/"positive"."""
    with load_report_replaced():
        model, loading_info = loaded(
            model_args.model_name_or_path,
            lambda: AutoModelForSequenceClassification.from_pretrained(
                model_args.model_name_or_path,
                num_labels=len(label_names),
                id2label=dict(enumerate(label_names)),
                label2id={name: index for index, name in enumerate(label_names)},
                cache_dir=model_args.cache_dir,
                revision=model_args.model_revision,
                token=model_args.token,
                output_loading_info=True,
            ),
        )
    describe_loading(model, model_args.model_name_or_path, loading_info)
    return model


def resolve_device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def load_classifier(
    model_dir_or_id: str, device: str | None = None, token: str | None = None
) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """A fine-tuned classifier and its tokenizer, ready for inference on `device`."""
    model = loaded(model_dir_or_id, lambda: AutoModelForSequenceClassification.from_pretrained(model_dir_or_id, token=token))
    tokenizer = loaded(model_dir_or_id, lambda: AutoTokenizer.from_pretrained(model_dir_or_id, token=token))
    return tokenizer, model.to(resolve_device(device)).eval()
