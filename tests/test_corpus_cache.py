"""A second run with the same data files memory-maps the corpus parsed by the first, and only then."""

import logging
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from nsmc_trainer.config import DataArguments
from nsmc_trainer.data import load_corpus
from nsmc_trainer.features import tokenize_corpus

TRAIN = "id\tdocument\tlabel\n1\t재밌다\t1\n2\t지루하다\t0\n3\t최고의 영화\t1\n"
VALIDATION = "id\tdocument\tlabel\n4\t볼만하다\t1\n5\t별로\t0\n"
REUSED = "Reusing the corpus read earlier"


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    paths = {"train": tmp_path / "train.tsv", "validation": tmp_path / "validation.tsv"}
    paths["train"].write_text(TRAIN, encoding="utf-8")
    paths["validation"].write_text(VALIDATION, encoding="utf-8")
    return paths


def read(files: dict[str, Path], cache_dir: Path, caplog, **flags):
    caplog.clear()
    args = DataArguments(
        train_file=str(files["train"]),
        validation_file=str(files["validation"]),
        features_cache_dir=str(cache_dir),
        **flags,
    )
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        return load_corpus(args)


def rows(corpus) -> dict[str, list[dict]]:
    return {split: dataset.to_list() for split, dataset in corpus.items()}


def test_the_second_run_reuses_the_corpus_and_then_its_features(files, tmp_path, caplog, kcbert_tokenizer_dir):
    cache_dir = tmp_path / "cache"
    tokenizer = AutoTokenizer.from_pretrained(kcbert_tokenizer_dir)
    first = read(files, cache_dir, caplog)
    assert REUSED not in caplog.text
    tokenize_corpus(first, tokenizer, 32, cache_dir=cache_dir)

    second = read(files, cache_dir, caplog)
    assert REUSED in caplog.text
    assert rows(second) == rows(first)
    assert second["train"].features == first["train"].features
    # Same fingerprint as the parsed corpus, so the features tokenized from it are found too.
    assert second["train"]._fingerprint == first["train"]._fingerprint
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        tokenize_corpus(second, tokenizer, 32, cache_dir=cache_dir)
    assert "Reusing cached features for 'train'" in caplog.text
    assert "Tokenizing features" not in caplog.text


def test_an_edited_file_is_read_again(files, tmp_path, caplog):
    cache_dir = tmp_path / "cache"
    read(files, cache_dir, caplog)
    files["train"].write_text(TRAIN.replace("지루하다\t0", "지루했다\t0"), encoding="utf-8")

    edited = read(files, cache_dir, caplog)
    assert REUSED not in caplog.text
    assert edited["train"]["document"] == ["재밌다", "지루했다", "최고의 영화"]


@pytest.mark.parametrize(
    "flags", [{"class_names": "부정,긍정"}, {"overwrite_cache": True}], ids=["other class names", "overwrite_cache"]
)
def test_other_reading_flags_or_overwrite_cache_read_the_files_again(files, tmp_path, caplog, flags):
    cache_dir = tmp_path / "cache"
    read(files, cache_dir, caplog)
    again = read(files, cache_dir, caplog, **flags)
    assert REUSED not in caplog.text
    assert len(again["train"]) == 3


def test_a_damaged_cached_corpus_is_read_again_with_a_warning(files, tmp_path, caplog):
    cache_dir = tmp_path / "cache"
    expected = rows(read(files, cache_dir, caplog))
    (arrow_file,) = cache_dir.glob("corpus-*/train/*.arrow")
    arrow_file.write_bytes(arrow_file.read_bytes()[:-16])

    assert rows(read(files, cache_dir, caplog)) == expected
    assert "The cached corpus" in caplog.text
    assert "is damaged" in caplog.text
    assert rows(read(files, cache_dir, caplog)) == expected
    assert REUSED in caplog.text


def test_max_samples_cut_the_cached_corpus_not_the_cache(files, tmp_path, caplog):
    cache_dir = tmp_path / "cache"
    assert len(read(files, cache_dir, caplog, max_train_samples=1)["train"]) == 1
    assert len(read(files, cache_dir, caplog)["train"]) == 3
    assert REUSED in caplog.text
