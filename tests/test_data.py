"""A learner points --data_dir at NSMC and gets train/test splits with named labels."""

from pathlib import Path

import pytest

from nsmc_trainer.data import DataFileError, load_nsmc

HEADER = "id\tdocument\tlabel\n"


def write_nsmc(directory: Path, train_rows: str, test_rows: str = "1\t좋아요\t1\n") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ratings_train.txt").write_text(HEADER + train_rows, encoding="utf-8")
    (directory / "ratings_test.txt").write_text(HEADER + test_rows, encoding="utf-8")
    return directory


def test_nsmc_mini_loads_into_train_and_test_with_label_names(nsmc_mini):
    corpus = load_nsmc(nsmc_mini)
    assert corpus["train"].num_rows == 2000
    assert corpus["test"].num_rows == 500
    assert corpus["train"].features["label"].names == ["negative", "positive"]
    assert set(corpus["train"].unique("label")) == {0, 1}
    first = (nsmc_mini / "ratings_train.txt").read_text(encoding="utf-8").split("\n")[1].split("\t")
    assert corpus["train"][0] == {"id": first[0], "document": first[1], "label": int(first[2])}


def test_empty_documents_are_kept_as_empty_strings_and_counted(tmp_path, caplog):
    data_dir = write_nsmc(tmp_path, "1\t\t0\n2\t재밌다\t1\n3\t\t1\n")
    with caplog.at_level("INFO", logger="nsmc_trainer"):
        corpus = load_nsmc(data_dir)
    assert corpus["train"]["document"] == ["", "재밌다", ""]
    assert corpus["train"]["label"] == [0, 1, 1]
    assert "3 rows" in caplog.text and "2 with an empty document" in caplog.text


def test_quotes_inside_documents_are_text_not_quoting(tmp_path):
    data_dir = write_nsmc(tmp_path, '1\t"최고" 라더니 "최악"\t0\n2\t그냥 "\t1\n')
    corpus = load_nsmc(data_dir)
    assert corpus["train"]["document"] == ['"최고" 라더니 "최악"', '그냥 "']


def test_a_malformed_row_is_reported_with_file_and_line(tmp_path):
    data_dir = write_nsmc(tmp_path, "1\t좋다\t1\n2\t탭이\t들어간\t0\n")
    with pytest.raises(DataFileError, match=r"ratings_train\.txt:3: expected 3 tab-separated fields"):
        load_nsmc(data_dir)


def test_a_missing_directory_names_the_flag_to_fix_it(tmp_path):
    with pytest.raises(DataFileError, match="--data_dir"):
        load_nsmc(tmp_path / "nowhere")
