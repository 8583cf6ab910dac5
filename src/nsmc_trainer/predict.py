"""Classify Korean movie reviews with a fine-tuned NSMC model, from a local directory or a Hub repo.

Texts come from arguments, a file (one per line, or a TSV/CSV column) or stdin; results go out as
JSON Lines or TSV. With a label column the accuracy is reported, so the same command checks a
pushed model against NSMC's ratings_test.txt.
"""

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import torch
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_SEQ_LENGTH = 128


def resolve_device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def load_classifier(
    model_dir_or_id: str, device: str | None = None, token: str | None = None
) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    model = AutoModelForSequenceClassification.from_pretrained(model_dir_or_id, token=token)
    tokenizer = AutoTokenizer.from_pretrained(model_dir_or_id, token=token)
    return tokenizer, model.to(resolve_device(device)).eval()


def classify(
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    model: PreTrainedModel,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """One {label, score, probabilities} per text, in input order.

    Texts are batched by length so each batch is padded to little more than its own longest
    review; the results are put back in input order.
    """
    id2label = model.config.id2label
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    results: list[dict[str, Any]] = [{} for _ in texts]
    bar = tqdm(total=len(texts), unit="text", file=sys.stderr, disable=not progress or len(texts) <= batch_size)
    with torch.inference_mode(), bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=max_seq_length,
                return_tensors="pt",
            ).to(model.device)
            probs = model(**inputs).logits.float().softmax(dim=-1).cpu().tolist()
            for i, row in zip(batch, probs, strict=True):
                best = max(range(len(row)), key=row.__getitem__)
                results[i] = {
                    "label": id2label[best],
                    "score": row[best],
                    "probabilities": {id2label[j]: p for j, p in enumerate(row)},
                }
            bar.update(len(batch))
    return results


def predict(
    texts: list[str],
    model_dir_or_id: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    token: str | None = None,
) -> list[dict[str, Any]]:
    """Loads the model (a local directory or Hub repo id) and classifies `texts`."""
    tokenizer, model = load_classifier(model_dir_or_id, device=device, token=token)
    return classify(texts, tokenizer, model, batch_size=batch_size, max_seq_length=max_seq_length)


def read_table(path: Path, text_column: str, label_column: str | None) -> tuple[list[str], list[str] | None]:
    """Texts (and labels) from a header-first CSV or TSV.

    TSV is read without quote handling: NSMC's files are tab-separated with bare `"` inside
    reviews, which the csv module's default quoting would merge across rows.
    """
    dialect = {"delimiter": ","} if path.suffix.lower() == ".csv" else {"delimiter": "\t", "quoting": csv.QUOTE_NONE}
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, **dialect)
        columns = reader.fieldnames or []
        for column in (text_column, label_column):
            if column is not None and column not in columns:
                raise ValueError(f"{path} has no column {column!r}; its columns are {columns}")
        rows = list(reader)
    texts = [row[text_column] or "" for row in rows]
    labels = [row[label_column] or "" for row in rows] if label_column else None
    return texts, labels


def read_lines(stream: Iterable[str]) -> list[str]:
    """One text per non-empty line; a trailing newline must not become an empty review."""
    return [line.rstrip("\r\n") for line in stream if line.strip()]


def label_names(labels: Sequence[str], model: PreTrainedModel) -> list[str]:
    """Gold labels as the model's label names; files may hold ids ("0"/"1") or names."""
    id2label, label2id = model.config.id2label, model.config.label2id
    names = []
    for value in labels:
        value = value.strip()
        if value in label2id:
            names.append(value)
        elif value.isdigit() and int(value) in id2label:
            names.append(id2label[int(value)])
        else:
            raise ValueError(f"Label {value!r} is neither a label id nor a name of this model ({dict(id2label)})")
    return names


def write_results(
    out: TextIO, texts: Sequence[str], results: Sequence[dict[str, Any]], gold: Sequence[str] | None, fmt: str
) -> None:
    if fmt == "jsonl":
        for i, (text, result) in enumerate(zip(texts, results, strict=True)):
            record = {"text": text, **result, **({"gold_label": gold[i]} if gold else {})}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    label_order = list(results[0]["probabilities"]) if results else []
    header = ["text", "label", "score", *(f"prob_{name}" for name in label_order), *(["gold_label"] if gold else [])]
    out.write("\t".join(header) + "\n")
    for i, (text, result) in enumerate(zip(texts, results, strict=True)):
        # Tabs or newlines inside a review would break the row: collapse whitespace.
        cells = [" ".join(text.split()), result["label"], f"{result['score']:.6f}"]
        cells += [f"{result['probabilities'][name]:.6f}" for name in label_order]
        out.write("\t".join(cells + ([gold[i]] if gold else [])) + "\n")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nsmc-predict",
        description="Classify Korean movie reviews as negative/positive with a fine-tuned NSMC model.",
    )
    parser.add_argument("texts", nargs="*", help="Reviews to classify (default: --input_file, else stdin).")
    parser.add_argument(
        "--model", "--model_name_or_path", dest="model", required=True, help="Model directory or Hub repo id."
    )
    parser.add_argument("--input_file", type=Path, help="One review per line, or a TSV/CSV with --text_column.")
    parser.add_argument("--text_column", help="Column of the reviews in a TSV (.csv: comma-separated) file.")
    parser.add_argument("--label_column", help="Column of the true labels (ids or names): report accuracy.")
    parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--max_seq_length", type=int, default=DEFAULT_MAX_SEQ_LENGTH)
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu).")
    parser.add_argument("--format", choices=("jsonl", "tsv"), default="jsonl", help="Output format.")
    parser.add_argument("--output_file", type=Path, help="Write results here instead of stdout.")
    parser.add_argument("--token", help="Hub token for private models (default: HF_TOKEN or `hf auth login`).")
    args = parser.parse_args(argv)
    if args.label_column and not args.text_column:
        parser.error("--label_column needs --text_column (a TSV/CSV --input_file)")
    if args.text_column and not args.input_file:
        parser.error("--text_column needs --input_file")
    if args.texts and args.input_file:
        parser.error("give texts as arguments or --input_file, not both")
    if args.batch_size < 1:
        parser.error("--batch_size must be at least 1")
    return args


def read_inputs(args: argparse.Namespace) -> tuple[list[str], list[str] | None]:
    if args.texts:
        return list(args.texts), None
    if args.input_file and args.text_column:
        return read_table(args.input_file, args.text_column, args.label_column)
    if args.input_file:
        with args.input_file.open(encoding="utf-8") as f:
            return read_lines(f), None
    return read_lines(sys.stdin), None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        texts, labels = read_inputs(args)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not texts:
        print("error: no texts to classify (give them as arguments, --input_file or on stdin)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    tokenizer, model = load_classifier(args.model, device=args.device, token=args.token)
    try:
        gold = label_names(labels, model) if labels is not None else None
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    results = classify(texts, tokenizer, model, args.batch_size, args.max_seq_length, progress=True)
    if args.output_file:
        with args.output_file.open("w", encoding="utf-8") as out:
            write_results(out, texts, results, gold, args.format)
    else:
        write_results(sys.stdout, texts, results, gold, args.format)
    summary = f"{len(texts)} texts classified with {args.model} in {time.perf_counter() - start:.1f}s"
    if gold is not None:
        correct = sum(r["label"] == g for r, g in zip(results, gold, strict=True))
        accuracy = correct / len(gold)
        print(f"accuracy: {accuracy:.4f} ({correct}/{len(gold)})", file=sys.stderr)
        summary += f"; accuracy {accuracy:.4f}"
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
