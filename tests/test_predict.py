"""nsmc-predict: inputs from arguments, files, stdin and labelled TSV/CSV; a local dir or a Hub repo."""

import csv
import io
import json
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from conftest import NSMC_MINI, require
from conftest_hub import REVIEWS, push, run_python
from nsmc_trainer.cli import predict_main as main
from nsmc_trainer.config import EXIT_ERROR
from nsmc_trainer.predict import predict

from conftest_hub import output_dir_fixture  # noqa: F401  (provides the fixture "output_dir")
from hub_server import hub_server_fixture  # noqa: F401  (provides the fixture "hub_server")


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_predict_is_the_model_softmax_in_input_order_whatever_the_batching(output_dir):
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    model = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    with torch.no_grad():
        expected = [model(**tokenizer(text, return_tensors="pt")).logits.softmax(-1)[0].tolist() for text in REVIEWS]

    for batch_size in (1, 2, 8):
        results = predict(REVIEWS, str(output_dir), batch_size=batch_size, device="cpu")
        assert len(results) == len(REVIEWS)
        for result, probs in zip(results, expected, strict=True):
            assert list(result["probabilities"]) == ["negative", "positive"]
            assert list(result["probabilities"].values()) == pytest.approx(probs, abs=1e-5)
            assert result["score"] == max(result["probabilities"].values())
            assert result["label"] == max(result["probabilities"], key=result["probabilities"].get)


def test_cli_classifies_texts_given_as_arguments(output_dir, capsys):
    assert main(["--model", str(output_dir), *REVIEWS[:2]]) == 0
    records = jsonl(capsys.readouterr().out)
    expected = predict(REVIEWS[:2], str(output_dir))
    assert [r["text"] for r in records] == REVIEWS[:2]
    assert [r["label"] for r in records] == [e["label"] for e in expected]
    assert [r["score"] for r in records] == pytest.approx([e["score"] for e in expected])


def test_cli_reads_a_text_file_or_stdin_alike(output_dir, tmp_path, capsys, monkeypatch):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("\n".join(REVIEWS[:3]) + "\n\n", encoding="utf-8")
    assert main(["--model", str(output_dir), "--input_file", str(reviews)]) == 0
    from_file = jsonl(capsys.readouterr().out)

    monkeypatch.setattr(sys, "stdin", io.StringIO(reviews.read_text(encoding="utf-8")))
    assert main(["--model", str(output_dir), "--batch_size", "2"]) == 0
    from_stdin = jsonl(capsys.readouterr().out)

    assert [r["text"] for r in from_file] == REVIEWS[:3]
    assert [r["label"] for r in from_stdin] == [r["label"] for r in from_file]
    assert [r["score"] for r in from_stdin] == pytest.approx([r["score"] for r in from_file], abs=1e-5)


def test_cli_on_labelled_nsmc_tsv_reports_accuracy(output_dir, tmp_path, capsys):
    rows = (require(NSMC_MINI) / "ratings_test.txt").read_text(encoding="utf-8").splitlines()[:65]
    tsv = tmp_path / "ratings_head.txt"
    tsv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "predictions.tsv"

    argv = ["--model", str(output_dir), "--input_file", str(tsv), "--text_column", "document"]
    argv += ["--label_column", "label", "--format", "tsv", "--output_file", str(out), "--batch_size", "16"]
    assert main(argv) == 0

    with out.open(encoding="utf-8") as f:
        predictions = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    documents = [row.split("\t")[1] for row in rows[1:]]
    gold = ["negative" if row.split("\t")[2] == "0" else "positive" for row in rows[1:]]
    assert [p["text"] for p in predictions] == [" ".join(d.split()) for d in documents]
    assert [p["gold_label"] for p in predictions] == gold
    correct = sum(p["label"] == p["gold_label"] for p in predictions)
    stderr = capsys.readouterr().err
    assert f"accuracy: {correct / 64:.4f} ({correct}/64)" in stderr
    assert f"64 texts classified with {output_dir}" in stderr and f"accuracy {correct / 64:.4f}" in stderr


def test_cli_reads_quoted_csv_with_label_names(output_dir, tmp_path, capsys):
    table = tmp_path / "reviews.csv"
    table.write_text(
        'review,sentiment\n"재밌다, 또 보고 싶다",positive\n"최악, ""돈"" 아까움",negative\n', encoding="utf-8"
    )
    argv = [
        "--model",
        str(output_dir),
        "--input_file",
        str(table),
        "--text_column",
        "review",
        "--label_column",
        "sentiment",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    records = jsonl(captured.out)
    assert [r["text"] for r in records] == ["재밌다, 또 보고 싶다", '최악, "돈" 아까움']
    assert [r["gold_label"] for r in records] == ["positive", "negative"]
    assert "accuracy: " in captured.err


def test_cli_rejects_bad_columns_and_labels(output_dir, tmp_path, capsys):
    table = tmp_path / "reviews.tsv"
    table.write_text("document\tlabel\n좋아요\tmaybe\n", encoding="utf-8")
    base = ["--model", str(output_dir), "--input_file", str(table), "--text_column"]
    assert main([*base, "review"]) == EXIT_ERROR
    assert "has no column 'review'" in capsys.readouterr().err
    assert main([*base, "document", "--label_column", "label"]) == EXIT_ERROR
    assert "Label 'maybe' is neither a label id nor a name" in capsys.readouterr().err


def test_python_m_predict_pulls_a_hub_repo(hub_server, output_dir, tmp_path):
    pushed = push(hub_server, tmp_path / "hf-push", output_dir, "test-user/nsmc-tiny", token=hub_server.token)
    assert "url" in pushed, pushed

    cli = [str(Path(sys.executable).with_name("nsmc-predict")), "--model", "test-user/nsmc-tiny", *REVIEWS]
    result = run_python(cli, hub_server.client_env(tmp_path / "hf-pull"))
    assert result.returncode == 0, result.stderr[-3000:]
    remote = jsonl(result.stdout)
    local = predict(REVIEWS, str(output_dir))
    assert [r["label"] for r in remote] == [r["label"] for r in local]
    assert [r["score"] for r in remote] == pytest.approx([r["score"] for r in local], abs=1e-5)
    assert list((tmp_path / "hf-pull" / "hub").glob("models--test-user--nsmc-tiny/snapshots/*/model.safetensors"))


def test_a_bad_prediction_file_is_named_with_its_line_as_in_training(output_dir, tmp_path, capsys):
    table = tmp_path / "reviews.tsv"
    table.write_text("id\tdocument\n1\t좋아요\n2\t별로\t예요\n", encoding="utf-8")
    argv = ["--model", str(output_dir), "--input_file", str(table), "--text_column", "document"]
    assert main(argv) == EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"nsmc-predict: error: {table}:3: expected 2 tab-separated fields")
    assert len(err.splitlines()) == 1


def test_a_prediction_file_with_bom_and_crlf_reads_like_a_clean_one(output_dir, tmp_path, capsys):
    clean, messy = tmp_path / "clean.tsv", tmp_path / "messy.tsv"
    clean.write_text("document\n좋아요\n별로예요\n", encoding="utf-8")
    messy.write_bytes("\ufeffdocument\r\n좋아요\r\n별로예요\r\n".encode("utf-8"))
    outputs = []
    for path in (clean, messy):
        assert main(["--model", str(output_dir), "--input_file", str(path), "--text_column", "document"]) == 0
        outputs.append(jsonl(capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert [record["text"] for record in outputs[1]] == ["좋아요", "별로예요"]


def test_a_missing_model_directory_is_one_line_not_a_traceback(capsys):
    assert main(["--model", "/no/such/dir", "좋아요"]) == EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("nsmc-predict: error: /no/such/dir: no such model directory.")
    assert len(err.splitlines()) == 1
