"""Reviews become token ids the way ratsnlp's kcbert tokenizer made them, cached for the next run."""

import logging

from datasets import DatasetDict
from transformers import AutoTokenizer

from nsmc_trainer.data import load_nsmc
from nsmc_trainer.features import tokenize_corpus

RATSNLP_EXAMPLE = "아 더빙.. 진짜 짜증나네요 목소리"
RATSNLP_IDS = [2, 2170, 832, 5045, 17, 17, 7992, 29734, 4040, 10720, 3]


def test_kcbert_tokenizer_reproduces_ratsnlp_ids(kcbert_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(kcbert_tokenizer_dir)
    assert tokenizer.is_fast
    assert tokenizer(RATSNLP_EXAMPLE)["input_ids"] == RATSNLP_IDS


def small_corpus(nsmc_mini, rows: int = 64) -> DatasetDict:
    corpus = load_nsmc(nsmc_mini)
    return DatasetDict({split: dataset.select(range(rows)) for split, dataset in corpus.items()})


def cache_files(features: DatasetDict) -> set[str]:
    return {file["filename"] for dataset in features.values() for file in dataset.cache_files}


def test_features_are_truncated_and_carry_lengths(nsmc_mini, kcbert_tokenizer_dir, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(kcbert_tokenizer_dir)
    features = tokenize_corpus(small_corpus(nsmc_mini), tokenizer, max_seq_length=16, cache_dir=tmp_path)
    train = features["train"]
    assert {"input_ids", "attention_mask", "label", "length"} <= set(train.column_names)
    assert max(train["length"]) == 16
    assert all(ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id for ids in train["input_ids"])
    assert train["length"] == [len(ids) for ids in train["input_ids"]]


def test_second_run_reuses_the_cache_and_changes_make_new_features(
    nsmc_mini, kcbert_tokenizer_dir, tiny_model_dir, tmp_path, caplog
):
    tokenizer = AutoTokenizer.from_pretrained(kcbert_tokenizer_dir)
    corpus = small_corpus(nsmc_mini)
    first = tokenize_corpus(corpus, tokenizer, max_seq_length=128, cache_dir=tmp_path)
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        again = tokenize_corpus(small_corpus(nsmc_mini), tokenizer, max_seq_length=128, cache_dir=tmp_path)
    assert "Reusing cached features for 'train'" in caplog.text
    assert cache_files(again) == cache_files(first)

    shorter = tokenize_corpus(corpus, tokenizer, max_seq_length=64, cache_dir=tmp_path)
    assert cache_files(shorter).isdisjoint(cache_files(first))

    other_data = DatasetDict({split: dataset.select(range(1, 33)) for split, dataset in corpus.items()})
    assert cache_files(tokenize_corpus(other_data, tokenizer, 128, cache_dir=tmp_path)).isdisjoint(cache_files(first))

    other_tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    other_tokenizer.add_tokens(["새토큰"])
    changed = tokenize_corpus(corpus, other_tokenizer, max_seq_length=128, cache_dir=tmp_path)
    assert cache_files(changed).isdisjoint(cache_files(first))


def test_features_hold_exactly_what_the_tokenizer_gives(nsmc_mini, kcbert_tokenizer_dir, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(kcbert_tokenizer_dir)
    corpus = load_nsmc(nsmc_mini)
    for pad_to_max_length in (False, True):
        features = tokenize_corpus(corpus, tokenizer, 64, cache_dir=tmp_path, pad_to_max_length=pad_to_max_length)
        expected = tokenizer(
            list(corpus["train"]["document"]),
            truncation=True,
            max_length=64,
            padding="max_length" if pad_to_max_length else False,
        )
        assert list(features["train"]["input_ids"]) == expected["input_ids"]
        assert list(features["train"]["attention_mask"]) == expected["attention_mask"]
        assert list(features["train"]["length"]) == [sum(mask) for mask in expected["attention_mask"]]
