"""What a run saves does not depend on the cache: the same command writes the same tokenizer,
config and card whether it tokenized afresh or found the features cached."""

from pathlib import Path

import pytest

from conftest import NSMC_MINI, TINY_MODEL, require
from nsmc_trainer.config import DataArguments, ModelArguments, NsmcTrainingArguments
from nsmc_trainer.train import train

SAVED_FILES = ("tokenizer.json", "tokenizer_config.json", "config.json", "README.md")


def run(output_dir: Path, cache_dir: Path, pad_to_max_length: bool) -> None:
    train(
        ModelArguments(model_name_or_path=str(TINY_MODEL)),
        DataArguments(
            data_dir=str(NSMC_MINI),
            max_train_samples=64,
            max_eval_samples=32,
            features_cache_dir=str(cache_dir),
            pad_to_max_length=pad_to_max_length,
        ),
        NsmcTrainingArguments(output_dir=str(output_dir), num_train_epochs=1, report_to="none", disable_tqdm=True),
    )


@pytest.mark.parametrize("pad_to_max_length", [False, True], ids=["dynamic-padding", "pad-to-128"])
def test_cold_and_warm_cache_runs_save_byte_identical_files(tmp_path, pad_to_max_length):
    require(NSMC_MINI)
    require(TINY_MODEL)
    cold, warm = tmp_path / "cold" / "model", tmp_path / "warm" / "model"
    run(cold, tmp_path / "cache", pad_to_max_length)
    run(warm, tmp_path / "cache", pad_to_max_length)
    for name in SAVED_FILES:
        # The card names the output directory in its usage examples; nothing else may differ.
        assert (cold / name).read_bytes().replace(b"/cold/", b"/") == (warm / name).read_bytes().replace(
            b"/warm/", b"/"
        ), name
    assert b'"truncation": null' in (cold / "tokenizer.json").read_bytes()
