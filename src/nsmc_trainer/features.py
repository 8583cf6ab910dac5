"""Reviews -> token ids, cached as Arrow files that later runs memory-map instead of re-tokenizing.

A cache file is named by a fingerprint of everything its content depends on: the split's data
(its Arrow fingerprint, which `Dataset.from_dict` derives from the rows themselves), the
tokenizer's full serialization, the maximum length and the padding mode. Changing any of them
selects a new file, so stale features are never reused, whatever the file names or mtimes.
"""

import hashlib
import json
import logging
from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict
from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

# Bump when the tokenization below changes, so that old caches are not reused.
FEATURES_VERSION = "1"
TEXT_COLUMN = "document"


def default_features_cache_dir() -> Path:
    return Path(datasets.config.HF_DATASETS_CACHE) / "nsmc_trainer"


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """Hash the tokenizer's vocabulary, normalizer and special tokens, not its name or path.

    The backend's truncation/padding settings are left out: every call with `truncation=True`
    rewrites them, which would otherwise change the hash between the first and second split.
    """
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    backend.pop("truncation", None)
    backend.pop("padding", None)
    serialized = json.dumps(backend, sort_keys=True) + repr(sorted(tokenizer.special_tokens_map.items()))
    return hashlib.sha256(serialized.encode("utf-8")).hexdigest()[:16]


def features_fingerprint(
    dataset: Dataset, tokenizer: PreTrainedTokenizerBase, max_seq_length: int, pad_to_max_length: bool
) -> str:
    key = "|".join(
        [
            FEATURES_VERSION,
            dataset._fingerprint,
            tokenizer_fingerprint(tokenizer),
            str(max_seq_length),
            str(pad_to_max_length),
        ]
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def tokenize_batch(
    batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_seq_length: int, pad_to_max_length: bool
) -> dict[str, list]:
    encoded = tokenizer(
        batch[TEXT_COLUMN],
        truncation=True,
        max_length=max_seq_length,
        padding="max_length" if pad_to_max_length else False,
    )
    encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
    return encoded


def tokenize_split(
    dataset: Dataset,
    split: str,
    tokenizer: PreTrainedTokenizerBase,
    max_seq_length: int,
    cache_dir: Path,
    pad_to_max_length: bool = False,
    overwrite_cache: bool = False,
    num_proc: int | None = None,
) -> Dataset:
    fingerprint = features_fingerprint(dataset, tokenizer, max_seq_length, pad_to_max_length)
    cache_file = cache_dir / f"{split}-{fingerprint}.arrow"
    reused = cache_file.exists() and not overwrite_cache
    logger.info(
        "%s features for '%s' %s %s",
        "Reusing cached" if reused else "Tokenizing",
        split,
        "from" if reused else "into",
        cache_file,
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    return dataset.map(
        tokenize_batch,
        batched=True,
        fn_kwargs={"tokenizer": tokenizer, "max_seq_length": max_seq_length, "pad_to_max_length": pad_to_max_length},
        remove_columns=[TEXT_COLUMN],
        num_proc=num_proc,
        cache_file_name=str(cache_file),
        load_from_cache_file=not overwrite_cache,
        new_fingerprint=fingerprint,
        desc=f"Tokenizing {split}",
    )


def tokenize_corpus(
    corpus: DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    max_seq_length: int,
    cache_dir: Path | None = None,
    pad_to_max_length: bool = False,
    overwrite_cache: bool = False,
    num_proc: int | None = None,
) -> DatasetDict:
    cache_dir = cache_dir or default_features_cache_dir()
    return DatasetDict(
        {
            split: tokenize_split(
                dataset, split, tokenizer, max_seq_length, cache_dir, pad_to_max_length, overwrite_cache, num_proc
            )
            for split, dataset in corpus.items()
        }
    )


def log_examples(corpus: DatasetDict, features: DatasetDict, tokenizer: PreTrainedTokenizerBase, n: int = 3) -> None:
    """Show what the model really receives, as ratsnlp's notebook does for its first examples."""
    for index in range(min(n, len(features["train"]))):
        ids = features["train"][index]["input_ids"]
        logger.info("*** Example %d ***", index)
        logger.info("sentence: %s", corpus["train"][index][TEXT_COLUMN])
        logger.info("tokens: %s", " ".join(tokenizer.convert_ids_to_tokens(ids)))
        logger.info("input_ids: %s", ids)
        logger.info("label: %s", features["train"].features["label"].int2str(features["train"][index]["label"]))
