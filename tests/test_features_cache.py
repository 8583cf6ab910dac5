"""Cached features are trusted only while they match the data and are intact; otherwise they are rebuilt."""

import logging
from pathlib import Path

import pytest
from datasets import DatasetDict
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from nsmc_trainer.data import load_files, load_nsmc
from nsmc_trainer.features import tokenize_corpus


@pytest.fixture
def tokenizer(kcbert_tokenizer_dir) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(kcbert_tokenizer_dir)


@pytest.fixture
def corpus(nsmc_mini) -> DatasetDict:
    return DatasetDict({"train": load_nsmc(nsmc_mini)["train"].select(range(64))})


def tokenize(corpus: DatasetDict, tokenizer, cache_dir: Path, caplog, **options) -> DatasetDict:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        return tokenize_corpus(corpus, tokenizer, max_seq_length=32, cache_dir=cache_dir, **options)


def cache_files(features: DatasetDict) -> list[Path]:
    return [Path(file["filename"]) for file in features["train"].cache_files]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garble(path: Path) -> None:
    """Flip bytes in the middle: the file still opens, so only its digest can tell."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(255 - byte for byte in data[middle : middle + 8])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, garble, Path.unlink], ids=["truncated", "garbled", "deleted"])
def test_damaged_cache_is_rebuilt_with_a_warning(corpus, tokenizer, tmp_path, caplog, damage):
    first = tokenize(corpus, tokenizer, tmp_path, caplog)
    expected = list(first["train"]["input_ids"])
    damage(cache_files(first)[0])

    rebuilt = tokenize(corpus, tokenizer, tmp_path, caplog)
    assert "Cached features for 'train' are damaged" in caplog.text
    assert "tokenizing again" in caplog.text
    assert rebuilt["train"]["input_ids"] == expected

    again = tokenize(corpus, tokenizer, tmp_path, caplog)
    assert "Reusing cached features for 'train'" in caplog.text
    assert again["train"]["input_ids"] == expected


def test_overwrite_cache_forces_a_rebuild(corpus, tokenizer, tmp_path, caplog):
    tokenize(corpus, tokenizer, tmp_path, caplog)
    tokenize(corpus, tokenizer, tmp_path, caplog, overwrite_cache=True)
    assert "Tokenizing features for 'train'" in caplog.text
    assert "Reusing" not in caplog.text


def test_a_rewritten_data_file_is_tokenized_again(tokenizer, tmp_path, caplog):
    train = tmp_path / "train.tsv"
    train.write_text("document\tlabel\n좋다\t1\n싫다\t0\n", encoding="utf-8")
    first = tokenize(load_files({"train": train}), tokenizer, tmp_path / "features", caplog)

    tokenize(load_files({"train": train}), tokenizer, tmp_path / "features", caplog)
    assert "Reusing cached features for 'train'" in caplog.text

    train.write_text("document\tlabel\n좋다\t1\n정말 싫다\t0\n", encoding="utf-8")
    changed = tokenize(load_files({"train": train}), tokenizer, tmp_path / "features", caplog)
    assert "Tokenizing features for 'train'" in caplog.text
    assert set(cache_files(changed)).isdisjoint(cache_files(first))
    assert changed["train"]["length"] == [3, 4]


def test_several_workers_tokenize_the_same_features(corpus, tokenizer, tmp_path, caplog):
    single = tokenize(corpus, tokenizer, tmp_path / "one", caplog)
    parallel = tokenize(corpus, tokenizer, tmp_path / "two", caplog, num_proc=2)
    assert len(cache_files(parallel)) == 2
    assert parallel["train"][:] == single["train"][:]

    reused = tokenize(corpus, tokenizer, tmp_path / "two", caplog, num_proc=2)
    assert "Reusing cached features for 'train'" in caplog.text
    assert reused["train"][:] == single["train"][:]


def test_a_relative_cache_directory_is_written_and_reused(corpus, tokenizer, tmp_path, caplog, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = tokenize(corpus, tokenizer, Path("features"), caplog)
    again = tokenize(corpus, tokenizer, Path("features"), caplog)
    assert "Reusing cached features for 'train'" in caplog.text
    assert again["train"][:] == first["train"][:]
