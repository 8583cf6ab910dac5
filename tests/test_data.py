"""A learner trains on NSMC by default, or brings TSV, CSV or JSON Lines files with labels of any kind."""

import csv
import json
from pathlib import Path

import pytest

from nsmc_trainer.config import DataArguments
from nsmc_trainer.data import DataFileError, evaluation_split, has_labels, load_corpus, load_files, load_nsmc

HEADER = "id\tdocument\tlabel\n"

REVIEWS = [
    {"text": "최고의 영화, 또 보고 싶다", "sentiment": "pos"},
    {"text": '"명작"이라더니 그냥 그렇다', "sentiment": "neu"},
    {"text": "시간 아깝다", "sentiment": "neg"},
]


def write_nsmc(directory: Path, train_rows: str, test_rows: str = "1\t좋아요\t1\n") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ratings_train.txt").write_text(HEADER + train_rows, encoding="utf-8")
    (directory / "ratings_test.txt").write_text(HEADER + test_rows, encoding="utf-8")
    return directory


def write_reviews(path: Path, rows: list[dict]) -> Path:
    """Write rows in the format the file's extension names, as a user's own tools would."""
    with path.open("w", encoding="utf-8", newline="") as file:
        if path.suffix == ".jsonl":
            file.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        elif path.suffix == ".csv":
            writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        else:  # unquoted, as NSMC is published
            file.writelines("\t".join(map(str, row)) + "\n" for row in [list(rows[0]), *map(dict.values, rows)])
    return path


def test_nsmc_mini_loads_into_train_and_test_with_label_names(nsmc_mini):
    corpus = load_nsmc(nsmc_mini)
    assert corpus["train"].num_rows == 2000
    assert corpus["test"].num_rows == 500
    assert corpus["train"].features["label"].names == ["negative", "positive"]
    assert set(corpus["train"].unique("label")) == {0, 1}
    first = (nsmc_mini / "ratings_train.txt").read_text(encoding="utf-8").split("\n")[1].split("\t")
    assert corpus["train"][0] == {"id": first[0], "document": first[1], "label": int(first[2])}


def test_nsmc_is_the_default_corpus_and_its_test_split_is_evaluated(nsmc_mini):
    corpus = load_corpus(DataArguments(data_dir=str(nsmc_mini), max_train_samples=100, max_eval_samples=50))
    assert {split: len(dataset) for split, dataset in corpus.items()} == {"train": 100, "test": 50}
    assert evaluation_split(corpus) == "test"


def test_nsmc_labels_can_be_given_korean_names(tmp_path):
    data_dir = write_nsmc(tmp_path, "1\t재밌다\t1\n2\t별로\t0\n")
    corpus = load_corpus(DataArguments(data_dir=str(data_dir), class_names="부정,긍정"))
    assert corpus["train"].features["label"].names == ["부정", "긍정"]
    assert corpus["train"]["label"] == [1, 0]


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
def test_own_files_with_string_labels_give_three_sorted_classes(tmp_path, suffix):
    train = write_reviews(tmp_path / f"train{suffix}", REVIEWS)
    corpus = load_files({"train": train}, text_column="text", label_column="sentiment")
    assert corpus["train"].features["label"].names == ["neg", "neu", "pos"]
    assert corpus["train"]["label"] == [2, 1, 0]
    assert corpus["train"]["document"] == [row["text"] for row in REVIEWS]
    # Without an id column each row is known by its line number.
    assert corpus["train"]["id"] == (["1", "2", "3"] if suffix == ".jsonl" else ["2", "3", "4"])


def test_integer_labels_are_sorted_as_numbers(tmp_path):
    rows = [{"id": f"r{n}", "document": "리뷰", "label": label} for n, label in enumerate([10, 2, 1, 2])]
    corpus = load_files({"train": write_reviews(tmp_path / "stars.jsonl", rows)})
    assert corpus["train"].features["label"].names == ["1", "2", "10"]
    assert corpus["train"]["label"] == [2, 1, 0, 1]
    assert corpus["train"]["id"] == ["r0", "r1", "r2", "r3"]


def test_class_names_fix_the_order_and_accept_names_or_indices(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("document\tlabel\n좋다\tpositive\n싫다\t0\n", encoding="utf-8")
    args = DataArguments(train_file=str(train), validation_file=str(train), class_names="negative,positive")
    corpus = load_corpus(args)
    assert corpus["train"].features["label"].names == ["negative", "positive"]
    assert corpus["train"]["label"] == [1, 0]


def test_validation_file_is_evaluated_and_an_unlabelled_test_file_is_prediction_only(tmp_path):
    train = write_reviews(tmp_path / "train.csv", REVIEWS)
    validation = write_reviews(tmp_path / "validation.jsonl", REVIEWS[:2])
    test = write_reviews(tmp_path / "test.tsv", [{"text": "또 볼래요"}, {"text": "지루함"}])
    corpus = load_corpus(
        DataArguments(
            train_file=str(train),
            validation_file=str(validation),
            test_file=str(test),
            text_column_name="text",
            label_column_name="sentiment",
            max_eval_samples=1,
        )
    )
    assert evaluation_split(corpus) == "validation"
    assert len(corpus["validation"]) == 1
    assert not has_labels(corpus["test"])
    assert corpus["test"]["label"] == [-1, -1]
    assert corpus["test"]["document"] == ["또 볼래요", "지루함"]


def test_a_labelled_test_file_is_evaluated_when_there_is_no_validation_file(tmp_path):
    train = write_reviews(tmp_path / "train.tsv", REVIEWS)
    columns = {"text_column_name": "text", "label_column_name": "sentiment"}
    corpus = load_corpus(DataArguments(train_file=str(train), test_file=str(train), **columns))
    assert evaluation_split(corpus) == "test"


def test_training_needs_labelled_data_to_evaluate_on(tmp_path):
    train = write_reviews(tmp_path / "train.tsv", REVIEWS)
    with pytest.raises(DataFileError, match="no labelled data to evaluate on. Pass --validation_file"):
        load_corpus(DataArguments(train_file=str(train), text_column_name="text", label_column_name="sentiment"))


def test_own_validation_file_needs_a_train_file(tmp_path):
    validation = write_reviews(tmp_path / "validation.tsv", REVIEWS)
    with pytest.raises(DataFileError, match="given without a training file. Pass --train_file"):
        load_corpus(DataArguments(validation_file=str(validation)))
