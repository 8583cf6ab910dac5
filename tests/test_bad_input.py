"""Real files are messy: every bad file gets a message naming file, line and fix, or a logged repair."""

import hashlib
import json
import logging
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from nsmc_trainer.cli import main
from nsmc_trainer.data import DataFileError, load_files, load_nsmc
from nsmc_trainer.features import tokenize_corpus

HEADER = "id\tdocument\tlabel\n"


def nsmc_dir(tmp_path: Path, train: bytes | str, test: str = HEADER + "9\t좋아요\t1\n") -> Path:
    """An NSMC directory whose ratings_train.txt holds exactly `train`."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = train if isinstance(train, bytes) else train.encode("utf-8")
    (tmp_path / "ratings_train.txt").write_bytes(data)
    (tmp_path / "ratings_test.txt").write_text(test, encoding="utf-8")
    return tmp_path


def own_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# Missing, empty and headerless files


def test_missing_data_directory_names_the_flag(tmp_path):
    with pytest.raises(DataFileError, match=r"nowhere: directory not found. Pass --data_dir"):
        load_nsmc(tmp_path / "nowhere")


def test_missing_file_names_the_file_and_the_flags(tmp_path):
    with pytest.raises(DataFileError, match=r"train\.csv: file not found. Check the path given to --train_file"):
        load_files({"train": tmp_path / "train.csv"})


@pytest.mark.parametrize("content", ["", "\n\n  \n"], ids=["no bytes", "only blank lines"])
def test_empty_file_asks_for_a_header_and_rows(tmp_path, content):
    with pytest.raises(DataFileError, match=r"ratings_train\.txt: the file is empty. Write a header line such as"):
        load_nsmc(nsmc_dir(tmp_path, content))


def test_header_without_rows_is_empty_data(tmp_path):
    with pytest.raises(DataFileError, match=r"ratings_train\.txt: the file has a header but no rows"):
        load_nsmc(nsmc_dir(tmp_path, HEADER))


def test_missing_header_is_reported_at_line_1(tmp_path):
    data_dir = nsmc_dir(tmp_path, "1\t좋다\t1\n2\t싫다\t0\n")
    expected = r"ratings_train\.txt:1: the header '1<TAB>좋다<TAB>1' has no column 'document'. The first line must"
    with pytest.raises(DataFileError, match=expected):
        load_nsmc(data_dir)


def test_other_column_names_are_named_with_the_flag_that_fixes_them(tmp_path):
    path = own_file(tmp_path, "reviews.csv", "review,stars\n좋다,5\n별로,1\n")
    with pytest.raises(DataFileError, match=r"reviews\.csv:1: .*no column 'document'.*--text_column_name"):
        load_files({"train": path})
    with pytest.raises(DataFileError, match=r"reviews\.csv:1: .*no column 'label'.*--label_column_name"):
        load_files({"train": path}, text_column="review")
    assert load_files({"train": path}, text_column="review", label_column="stars")["train"]["label"] == [1, 0]


def test_unknown_file_type_lists_the_known_ones(tmp_path):
    with pytest.raises(DataFileError, match=r"reviews\.xlsx: unknown file type '\.xlsx'. .*\.tsv, \.txt, \.csv"):
        load_files({"train": own_file(tmp_path, "reviews.xlsx", "")})


# Rows


@pytest.mark.parametrize(
    "row, found",
    [("2\t탭이\t들어간 리뷰\t0", 4), ("2\t레이블 없음", 2)],
    ids=["tab inside the document", "missing field"],
)
def test_a_row_with_too_many_or_too_few_fields_names_its_line(tmp_path, row, found):
    data_dir = nsmc_dir(tmp_path, f"{HEADER}1\t좋다\t1\n{row}\n")
    with pytest.raises(DataFileError) as error:
        load_nsmc(data_dir)
    message = str(error.value)
    assert f"ratings_train.txt:3: expected 3 tab-separated fields (id, document, label), found {found}" in message
    assert "replace it with a space" in message


def test_csv_with_a_comma_outside_quotes_names_its_line(tmp_path):
    path = own_file(tmp_path, "train.csv", 'document,label\n"쉼표, 괜찮음",1\n쉼표, 문제,0\n')
    with pytest.raises(DataFileError, match=r"train\.csv:3: expected 2 comma-separated .* found 3. Put a field"):
        load_files({"train": path})


def test_csv_with_an_unclosed_quote_names_the_row_where_it_starts(tmp_path):
    path = own_file(tmp_path, "train.csv", 'document,label\n좋다,1\n"닫히지 않은 따옴표,0\n싫다,0\n')
    with pytest.raises(DataFileError, match=r"train\.csv:3: the CSV row cannot be parsed"):
        load_files({"train": path})


@pytest.mark.parametrize("label", ["2", "pos", ""])
def test_nsmc_label_outside_0_and_1_names_its_line(tmp_path, label):
    data_dir = nsmc_dir(tmp_path, f"{HEADER}1\t좋다\t1\n2\t이상한 레이블\t{label}\n")
    with pytest.raises(DataFileError, match=rf"ratings_train\.txt:3: label '{label}' is not one of negative, positive"):
        load_nsmc(data_dir)


def test_validation_label_unseen_in_training_names_its_line(tmp_path):
    train = own_file(tmp_path, "train.tsv", "document\tlabel\n좋다\tpos\n싫다\tneg\n")
    validation = own_file(tmp_path, "validation.tsv", "document\tlabel\n그저 그렇다\tneutral\n")
    with pytest.raises(DataFileError, match=r"validation\.tsv:2: label 'neutral' is not one of neg, pos. Every label"):
        load_files({"train": train, "validation": validation})


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"document": "따옴표 안 닫힘, "label": 1}', "invalid JSON"),
        ('["좋다", 1]', "a JSON list, not an object"),
        ('{"text": "좋다", "label": 1}', "the object has no key 'document'"),
        ('{"document": null, "label": 1}', "'document' is None, not a string"),
        ('{"document": "좋다", "label": 1.5}', "label 1.5 is not an integer or a string"),
    ],
)
def test_bad_json_lines_name_their_line(tmp_path, line, problem):
    path = own_file(tmp_path, "train.jsonl", '{"document": "좋다", "label": 1}\n' + line + "\n")
    with pytest.raises(DataFileError, match=rf"train\.jsonl:2: {problem}"):
        load_files({"train": path})


# Encodings and line ends


def test_non_utf8_bytes_name_the_line_and_how_to_convert(tmp_path):
    data = (HEADER + "1\t좋다\t1\n").encode("utf-8") + "2\t별로다\t0\n".encode("cp949")
    with pytest.raises(DataFileError, match=r"ratings_train\.txt:3: bytes .* are not UTF-8. .*iconv -f cp949"):
        load_nsmc(nsmc_dir(tmp_path, data))


def test_byte_order_mark_and_crlf_are_repaired_and_logged(tmp_path, caplog):
    data = "\ufeff" + (HEADER + "1\t좋다\t1\n2\t별로\t0\n").replace("\n", "\r\n")
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        corpus = load_nsmc(nsmc_dir(tmp_path, data))
    assert corpus["train"][:] == {"id": ["1", "2"], "document": ["좋다", "별로"], "label": [1, 0]}
    assert "removed the UTF-8 byte order mark" in caplog.text
    assert "converted 3 CRLF line ends to LF" in caplog.text


def test_blank_lines_are_skipped_and_counted(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        corpus = load_nsmc(nsmc_dir(tmp_path, f"\n{HEADER}1\t좋다\t1\n\n   \n2\t별로\t0\n\n"))
    assert corpus["train"]["document"] == ["좋다", "별로"]
    assert "Read 2 rows" in caplog.text and "4 blank lines skipped" in caplog.text


# Documents


def test_quotes_inside_documents_are_text_not_quoting(tmp_path):
    corpus = load_nsmc(nsmc_dir(tmp_path, f'{HEADER}1\t"최고" 라더니 "최악\t0\n2\t그냥 "\t1\n'))
    assert corpus["train"]["document"] == ['"최고" 라더니 "최악', '그냥 "']


def test_empty_documents_are_kept_and_counted(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        corpus = load_nsmc(nsmc_dir(tmp_path, f"{HEADER}1\t\t0\n2\t재밌다\t1\n3\t\t1\n"))
    assert corpus["train"]["document"] == ["", "재밌다", ""]
    assert corpus["train"]["label"] == [0, 1, 1]
    assert "Read 3 rows" in caplog.text and "2 with an empty document" in caplog.text


def test_very_long_documents_are_truncated_and_counted(tmp_path, kcbert_tokenizer_dir, caplog):
    long_review = "정말 최고의 영화 " * 500
    corpus = load_nsmc(nsmc_dir(tmp_path / "data", f"{HEADER}1\t{long_review}\t1\n2\t짧다\t0\n3\t{long_review}\t1\n"))
    tokenizer = AutoTokenizer.from_pretrained(kcbert_tokenizer_dir)
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        features = tokenize_corpus(corpus, tokenizer, max_seq_length=32, cache_dir=tmp_path / "features")
    assert features["train"]["length"] == [32, 4, 32]
    assert "2 of 3 'train' examples reached --max_seq_length 32 tokens and were truncated" in caplog.text


def test_padded_features_count_only_the_truncated_ones(tmp_path, kcbert_tokenizer_dir, caplog):
    corpus = load_nsmc(nsmc_dir(tmp_path / "data", f"{HEADER}1\t{'아주 긴 리뷰 ' * 100}\t1\n2\t짧다\t0\n"))
    tokenizer = AutoTokenizer.from_pretrained(kcbert_tokenizer_dir)
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        features = tokenize_corpus(corpus, tokenizer, 32, cache_dir=tmp_path / "features", pad_to_max_length=True)
    assert [len(ids) for ids in features["train"]["input_ids"]] == [32, 32]
    assert "1 of 2 'train' examples reached" in caplog.text


# Ids and labels


def test_duplicate_ids_are_kept_with_a_warning_naming_lines(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="nsmc_trainer"):
        corpus = load_nsmc(nsmc_dir(tmp_path, f"{HEADER}7\t좋다\t1\n8\t별로\t0\n7\t좋다\t1\n8\t또\t1\n"))
    assert corpus["train"]["id"] == ["7", "8", "7", "8"]
    assert "2 rows have an id seen earlier in the file (line 4 repeats line 2; line 5 repeats line 3)" in caplog.text


def test_test_split_without_labels_is_prediction_only(tmp_path, caplog):
    train = own_file(tmp_path, "train.tsv", "document\tlabel\n좋다\t1\n싫다\t0\n")
    test = own_file(tmp_path, "test.tsv", "document\n볼만하다\n")
    with caplog.at_level(logging.INFO, logger="nsmc_trainer"):
        corpus = load_files({"train": train, "test": test})
    assert corpus["test"]["label"] == [-1]
    assert "no 'label' column, so it is prediction-only" in caplog.text


def test_train_and_validation_files_need_labels(tmp_path):
    train = own_file(tmp_path, "train.tsv", "document\tlabel\n좋다\t1\n")
    unlabelled = own_file(tmp_path, "validation.tsv", "document\n볼만하다\n")
    with pytest.raises(DataFileError, match=r"validation\.tsv:1: the header 'document' has no column 'label'"):
        load_files({"train": train, "validation": unlabelled})


# The command line


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(path.relative_to(root)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_cli_reports_bad_data_in_one_paragraph_and_touches_nothing(tmp_path, capsys):
    output_dir = tmp_path / "output"
    features_cache = tmp_path / "features"
    for directory, name in ((output_dir, "model.safetensors"), (features_cache, "train-0123456789abcdef.arrow")):
        directory.mkdir()
        (directory / name).write_bytes(b"written by an earlier run")
    (output_dir / "all_results.json").write_text(json.dumps({"eval_accuracy": 0.9}))
    train = own_file(tmp_path, "train.tsv", "document\tlabel\n좋다\t1\n싫다\t0\n")
    validation = own_file(tmp_path, "validation.tsv", "document\tlabel\n볼만하다\t2\n")
    before = tree_digest(tmp_path)

    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "--train_file", str(train),
                "--validation_file", str(validation),
                "--output_dir", str(output_dir),
                "--overwrite_output_dir",  # even a run asked to replace the old model leaves it alone
                "--features_cache_dir", str(features_cache),
                "--report_to", "none",
            ]
        )  # fmt: skip

    assert exit_info.value.code == 1
    assert capsys.readouterr().err == (
        f"nsmc-train: error: {validation}:2: label '2' is not one of 0, 1. "
        "Every label must occur in the training file; fix the row, or list all labels with --class_names.\n"
    )
    assert tree_digest(tmp_path) == before


def test_cli_rejects_bad_data_before_any_output_is_written(tmp_path, capsys):
    output_dir = tmp_path / "output"
    with pytest.raises(SystemExit) as exit_info:
        main(["--data_dir", str(nsmc_dir(tmp_path, "")), "--output_dir", str(output_dir), "--report_to", "none"])
    assert exit_info.value.code == 1
    assert "ratings_train.txt: the file is empty" in capsys.readouterr().err
    assert not output_dir.exists()



def test_a_missing_model_directory_ends_the_run_in_one_line_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-such-model"
    argv = ["--model_name_or_path", str(missing), "--data_dir", str(nsmc_dir(tmp_path / "data", HEADER + "1\t좋다\t1\n"))]
    argv += ["--output_dir", str(tmp_path / "output"), "--features_cache_dir", str(tmp_path / "cache")]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--report_to", "none"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1] == (
        f"nsmc-train: error: {missing}: no such model directory. Pass a directory written by save_pretrained "
        "(nsmc-train's --output_dir), or a Hugging Face Hub model id such as beomi/kcbert-base"
    )
    assert not (tmp_path / "output" / "model.safetensors").exists()
