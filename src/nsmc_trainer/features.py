"""Reviews -> token ids, cached as Arrow files that later runs memory-map instead of re-tokenizing.

A cache entry is named by a fingerprint of everything its content depends on (the split's data,
the tokenizer, the maximum length, the padding mode), so stale features are never reused.
"""

import hashlib
import json
import logging
from pathlib import Path

import pyarrow.compute as pc
from datasets import Dataset, DatasetDict, concatenate_datasets
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerBase

from .cache import default_cache_dir, load_or_build, write_manifest
from .config import LABEL_COLUMN, TEXT_COLUMN

logger = logging.getLogger(__name__)

# Bump when the tokenization below changes, so that old caches are not reused.
FEATURES_VERSION = "3"


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """Hash the tokenizer's vocabulary, normalizer and special tokens, not its name or path.

    The backend's truncation/padding settings are left out: any `tokenizer(..., truncation=True)`
    call rewrites them. The serialization's key order is the Rust library's own and stable.
    """
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    backend.pop("truncation", None)
    backend.pop("padding", None)
    serialized = json.dumps(backend, ensure_ascii=False) + repr(sorted(tokenizer.special_tokens_map.items()))
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


def truncating_backend(tokenizer: PreTrainedTokenizerBase, max_seq_length: int, pad_to_max_length: bool) -> Tokenizer:
    """A copy of the Rust tokenizer that truncates (and pads): setting them on the shared one would
    bake them into the tokenizer.json saved with the model, but only on runs that tokenized afresh."""
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.enable_truncation(max_seq_length, direction=tokenizer.truncation_side)
    if pad_to_max_length:
        backend.enable_padding(
            length=max_seq_length,
            direction=tokenizer.padding_side,
            pad_id=tokenizer.pad_token_id,
            pad_token=tokenizer.pad_token,
        )
    return backend


def tokenize_batch(batch: dict[str, list], backend: Tokenizer) -> dict[str, list]:
    """Token ids and attention mask straight from the Rust tokenizer, the same ids `tokenizer(...)` gives.

    transformers' `tokenizer(...)` turns every encoding into a Python dict, token_type_ids
    included, which BERT fills with zeros by itself (bench/featurize.py).
    """
    encodings = backend.encode_batch_fast(batch[TEXT_COLUMN])
    attention_mask = [encoding.attention_mask for encoding in encodings]
    return {
        "input_ids": [encoding.ids for encoding in encodings],
        "attention_mask": attention_mask,
        # Real tokens, not padding: group_by_length and the count of truncated reviews both read it.
        "length": [sum(mask) for mask in attention_mask],
    }


def load_arrow_files(paths: list[Path]) -> Dataset:
    """The features of one split, from the Arrow file of each tokenization process."""
    parts = [Dataset.from_file(str(path)) for path in paths]
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


def remove_cache(manifest: Path) -> None:
    """Delete a damaged cache's manifest and the Arrow files of its fingerprint."""
    manifest.unlink(missing_ok=True)
    for path in manifest.parent.glob(f"{manifest.stem}*.arrow"):
        path.unlink()


def log_truncated(features: Dataset, split: str, max_seq_length: int) -> None:
    # One Arrow kernel, not a Python loop over 150K rows.
    lengths = features.with_format("arrow")["length"]
    truncated = pc.sum(pc.greater_equal(lengths, max_seq_length), min_count=0).as_py()
    logger.info(
        "%d of %d '%s' examples reached --max_seq_length %d tokens and were truncated to it "
        "(examples exactly that long included)",
        truncated,
        len(features),
        split,
        max_seq_length,
    )


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
    manifest = cache_file.with_suffix(".json")

    def build() -> Dataset:
        logger.info("Tokenizing features for '%s' into %s", split, cache_file)
        cache_dir.mkdir(parents=True, exist_ok=True)
        features = dataset.map(
            tokenize_batch,
            batched=True,
            fn_kwargs={"backend": truncating_backend(tokenizer, max_seq_length, pad_to_max_length)},
            remove_columns=[TEXT_COLUMN],
            num_proc=num_proc,
            cache_file_name=str(cache_file),
            load_from_cache_file=False,
            new_fingerprint=fingerprint,
            desc=f"Tokenizing {split}",
        )
        write_manifest(manifest, [Path(cache_file["filename"]) for cache_file in features.cache_files])
        return features

    features, reused = load_or_build(
        manifest,
        load=load_arrow_files,
        build=build,
        remove=lambda: remove_cache(manifest),
        damaged_warning=f"Cached features for '{split}' are damaged (%s); tokenizing again",
        overwrite=overwrite_cache,
    )
    if reused:
        logger.info("Reusing cached features for '%s' from %s", split, cache_file)
    log_truncated(features, split, max_seq_length)
    return features


def tokenize_corpus(
    corpus: DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    max_seq_length: int,
    cache_dir: Path | None = None,
    pad_to_max_length: bool = False,
    overwrite_cache: bool = False,
    num_proc: int | None = None,
) -> DatasetDict:
    cache_dir = cache_dir or default_cache_dir()
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
        label = features["train"][index][LABEL_COLUMN]
        logger.info("label: %s", features["train"].features[LABEL_COLUMN].int2str(label))
