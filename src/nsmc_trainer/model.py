"""The pretrained encoder with a fresh classification head that speaks in label names."""

from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .config import ModelArguments


def load_tokenizer(model_args: ModelArguments) -> PreTrainedTokenizerBase:
    """Load the fast (Rust) tokenizer: batched `map` relies on its speed."""
    return AutoTokenizer.from_pretrained(
        model_args.tokenizer_name or model_args.model_name_or_path,
        cache_dir=model_args.cache_dir,
        revision=model_args.model_revision,
        token=model_args.token,
        use_fast=True,
    )


def load_model(model_args: ModelArguments, label_names: list[str]) -> PreTrainedModel:
    """Store id2label/label2id in the config so that a saved model predicts "negative"/"positive"."""
    return AutoModelForSequenceClassification.from_pretrained(
        model_args.model_name_or_path,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={name: index for index, name in enumerate(label_names)},
        cache_dir=model_args.cache_dir,
        revision=model_args.model_revision,
        token=model_args.token,
    )
