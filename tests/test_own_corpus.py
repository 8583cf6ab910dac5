"""A user fine-tunes on their own three-class comments and gets a model that speaks their label names.

Trains the tiny random-init BERT for one epoch on a few dozen rows: the point is the data path
(formats, label names, evaluation split, predictions), not accuracy.
"""

import csv
import json
from pathlib import Path

import yaml

from hub_server import validate_card_metadata
from nsmc_trainer.cli import main

COMMENTS = {
    "긍정": ["정말 재밌어요", "최고의 영화", "또 보고 싶다", "배우들 연기 최고"],
    "중립": ["그냥 그래요", "볼만은 함", "평범한 영화", "나쁘지도 좋지도"],
    "부정": ["시간 아깝다", "지루해요", "최악의 영화", "돈 아까움"],
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_comments(tmp_path: Path) -> tuple[Path, Path]:
    train = tmp_path / "train.csv"
    with train.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["comment", "tone"])
        for _ in range(4):
            writer.writerows([text, tone] for tone, texts in COMMENTS.items() for text in texts)
    validation = write_jsonl(
        tmp_path / "validation.jsonl", [{"comment": texts[0], "tone": tone} for tone, texts in COMMENTS.items()]
    )
    return train, validation


def train_on(tmp_path: Path, tiny_model_dir: Path, *flags: str) -> Path:
    output_dir = tmp_path / "output"
    main(
        [
            "--model_name_or_path", str(tiny_model_dir),
            "--text_column_name", "comment",
            "--label_column_name", "tone",
            "--output_dir", str(output_dir),
            "--features_cache_dir", str(tmp_path / "features"),
            "--num_train_epochs", "1",
            "--per_device_train_batch_size", "8",
            "--report_to", "none",
            "--disable_tqdm", "true",
            *flags,
        ]
    )  # fmt: skip
    return output_dir


def test_three_classes_train_and_unlabelled_test_rows_get_predictions(tmp_path, tiny_model_dir):
    train, validation = write_comments(tmp_path)
    test = tmp_path / "test.tsv"
    test.write_text("comment\n완전 재밌어요\n\n너무 지루해요\n", encoding="utf-8")

    output_dir = train_on(
        tmp_path, tiny_model_dir, "--train_file", str(train), "--validation_file", str(validation),
        "--test_file", str(test),
    )  # fmt: skip

    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "긍정", "1": "부정", "2": "중립"}
    assert json.loads((output_dir / "eval_results.json").read_text())["eval_samples"] == 3
    with (output_dir / "predictions.tsv").open(encoding="utf-8", newline="") as file:
        predictions = list(csv.DictReader(file, delimiter="\t"))
    assert [row["id"] for row in predictions] == ["2", "4"]  # line numbers in test.tsv
    assert all(row["label"] in COMMENTS for row in predictions)
    assert all(0 < float(row["score"]) <= 1 for row in predictions)

    # The card names the file evaluated, not NSMC, and its confusion matrix uses the user's labels.
    card = (output_dir / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(card.split("---\n", 2)[1])
    assert "datasets" not in meta and "nsmc" not in meta["tags"] and "sentiment-analysis" not in meta["tags"]
    [result] = meta["model-index"][0]["results"]
    assert result["dataset"] == {"name": "validation.jsonl (3 examples)", "type": "validation.jsonl", "split": "validation"}
    assert validate_card_metadata(card) == ([], [])
    assert "NSMC" not in card.split("## Citation")[0]
    assert "| true \\ predicted | `긍정` | `부정` | `중립` |" in card


def test_a_labelled_test_file_next_to_validation_is_scored_separately(tmp_path, tiny_model_dir):
    train, validation = write_comments(tmp_path)
    test = write_jsonl(tmp_path / "test.jsonl", [{"comment": "완전 재밌어요", "tone": "긍정"}])

    output_dir = train_on(
        tmp_path, tiny_model_dir, "--train_file", str(train), "--validation_file", str(validation),
        "--test_file", str(test), "--class_names", "부정,중립,긍정",
    )  # fmt: skip

    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "부정", "1": "중립", "2": "긍정"}
    test_results = json.loads((output_dir / "test_results.json").read_text())
    assert {"test_loss", "test_accuracy", "test_f1"} <= test_results.keys()
    assert not (output_dir / "predictions.tsv").exists()
