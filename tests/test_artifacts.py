"""What a run saves does not depend on the cache: the same command writes the same tokenizer,
config and card whether it tokenized afresh or found the features cached."""

import pytest

from conftest import train_on_mini

SAVED_FILES = ("tokenizer.json", "tokenizer_config.json", "config.json", "README.md")


@pytest.mark.parametrize("pad_to_max_length", [False, True], ids=["dynamic-padding", "pad-to-128"])
def test_cold_and_warm_cache_runs_save_byte_identical_files(tmp_path, pad_to_max_length):
    cold, warm = tmp_path / "cold" / "model", tmp_path / "warm" / "model"
    train_on_mini(cold, tmp_path / "cache", pad_to_max_length=pad_to_max_length)
    train_on_mini(warm, tmp_path / "cache", pad_to_max_length=pad_to_max_length)
    for name in SAVED_FILES:
        # The card names the output directory in its usage examples; nothing else may differ.
        assert (cold / name).read_bytes().replace(b"/cold/", b"/") == (warm / name).read_bytes().replace(
            b"/warm/", b"/"
        ), name
    assert b'"truncation": null' in (cold / "tokenizer.json").read_bytes()
