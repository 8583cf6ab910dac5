"""The commands: `nsmc-train` (and `run_nsmc.py`), `nsmc-predict`, `nsmc-push`, `nsmc-serve`, `nsmc-download`.

Each parses its flags, calls the pipeline, and turns an error it can explain into one line on
stderr and exit status `EXIT_ERROR`, never a traceback.
"""

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from transformers import HfArgumentParser, PreTrainedModel

from .checkpoints import OutputDirError
from .config import EXIT_ERROR, LABEL_COLUMN, MAX_SEQ_LENGTH, DataArguments, ModelArguments, NsmcTrainingArguments
from .curves import CURVES_FILE, write_training_curves
from .data import DataFileError, read_data_file, read_text
from .download import (
    BASE_URL_ENV,
    BLOB_IDS_ENV,
    CACHE_DIR_ENV,
    DEFAULT_CACHE_DIR,
    PUBLISHED_BASE_URL,
    DownloadError,
    download_nsmc,
    parse_blob_ids,
)
from .hub import PushError, push_output_dir
from .interrupts import TrainingInterrupted
from .model_card import add_curves_to_card
from .model import ModelLoadError, load_classifier
from .predict import DEFAULT_BATCH_SIZE, classify
from .serve import (
    CPU_BATCH_SIZE,
    DEFAULT_HOST,
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_MAX_WAIT_MS,
    DEFAULT_PORT,
    ServeError,
    serve,
)
from .smoke import run_smoke_test
from .space import push_space, write_space
from .train import train


def fail(program: str, error: BaseException | str) -> int:
    print(f"{program}: error: {error}", file=sys.stderr)
    return EXIT_ERROR


# nsmc-train


def parse_args(argv: list[str] | None = None) -> tuple[ModelArguments, DataArguments, NsmcTrainingArguments]:
    """Accept `run_nsmc.py args.yaml` / `args.json` as transformers' example scripts do, or flags."""
    argv = sys.argv[1:] if argv is None else argv
    parser = HfArgumentParser((ModelArguments, DataArguments, NsmcTrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(argv[0])
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        return parser.parse_yaml_file(argv[0])
    return parser.parse_args_into_dataclasses(args=argv)


def main(argv: list[str] | None = None) -> None:
    """Data is read before anything is written, so a run stopped by bad input leaves caches and outputs as they were."""
    model_args, data_args, training_args = parse_args(argv)
    if training_args.smoke_test:
        raise SystemExit(run_smoke_test())
    try:
        train(model_args, data_args, training_args)
    except (DataFileError, DownloadError, OutputDirError, PushError, ModelLoadError) as error:
        raise SystemExit(fail("nsmc-train", error)) from None
    except TrainingInterrupted as interruption:
        print(f"nsmc-train: {interruption}", file=sys.stderr)
        raise SystemExit(interruption.exit_code) from None


# nsmc-predict


def parse_predict_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nsmc-predict",
        description="Classify Korean movie reviews as negative/positive with a fine-tuned NSMC model.",
    )
    parser.add_argument("texts", nargs="*", help="Reviews to classify (default: --input_file, else stdin).")
    parser.add_argument(
        "--model", "--model_name_or_path", dest="model", required=True, help="Model directory or Hub repo id."
    )
    parser.add_argument(
        "--input_file", type=Path, help="One review per line, or a .tsv/.txt, .csv or .jsonl file with --text_column."
    )
    parser.add_argument(
        "--text_column", "--text_column_name", dest="text_column", help="Column (or JSON key) of the reviews."
    )
    parser.add_argument(
        "--label_column",
        "--label_column_name",
        dest="label_column",
        help="Column of the true labels (ids or names): report accuracy.",
    )
    parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--max_seq_length", type=int, default=MAX_SEQ_LENGTH)
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu).")
    parser.add_argument("--format", choices=("jsonl", "tsv"), default="jsonl", help="Output format.")
    parser.add_argument("--output_file", type=Path, help="Write results here instead of stdout.")
    parser.add_argument("--token", help="Hub token for private models (default: HF_TOKEN or `hf auth login`).")
    args = parser.parse_args(argv)
    if args.label_column and not args.text_column:
        parser.error("--label_column needs --text_column (a TSV/CSV/JSONL --input_file)")
    if args.text_column and not args.input_file:
        parser.error("--text_column needs --input_file")
    if args.texts and args.input_file:
        parser.error("give texts as arguments or --input_file, not both")
    if args.batch_size < 1:
        parser.error("--batch_size must be at least 1")
    return args


def nonblank_lines(lines: Iterable[str]) -> list[str]:
    """One text per non-empty line; a trailing newline must not become an empty review."""
    return [line.rstrip("\r\n") for line in lines if line.strip()]


def read_inputs(args: argparse.Namespace) -> tuple[list[str], list[str] | None]:
    """Texts (and gold labels) through the training data's reader, with its FILE:LINE errors and repairs."""
    if args.texts:
        return list(args.texts), None
    if args.input_file and args.text_column:
        split = read_data_file(
            args.input_file,
            args.text_column,
            args.label_column or LABEL_COLUMN,
            labels_required=args.label_column is not None,
        )
        return split.documents, split.labels if args.label_column else None
    if args.input_file:
        return nonblank_lines(read_text(args.input_file).split("\n")), None
    return nonblank_lines(sys.stdin), None


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


def predict_main(argv: Sequence[str] | None = None) -> int:
    args = parse_predict_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        texts, labels = read_inputs(args)
        if not texts:
            return fail("nsmc-predict", "no texts to classify (give them as arguments, --input_file or on stdin)")
        start = time.perf_counter()
        tokenizer, model = load_classifier(args.model, device=args.device, token=args.token)
        gold = label_names(labels, model) if labels is not None else None
    except (DataFileError, ModelLoadError, OSError, ValueError) as error:
        return fail("nsmc-predict", error)
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


# nsmc-push


def push_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nsmc-push",
        description="Upload a trained NSMC model (the --output_dir of training) to the Hugging Face Hub.",
    )
    parser.add_argument("output_dir", type=Path, help="Training output directory with model.safetensors etc.")
    parser.add_argument("--hub_model_id", required=True, help="Target repo, e.g. username/kcbert-nsmc.")
    parser.add_argument("--private", action="store_true", help="Create the repo as private.")
    parser.add_argument("--token", default=None, help="Hub write token (default: HF_TOKEN or `hf auth login`).")
    parser.add_argument("--commit_message", default="Upload NSMC sentiment classifier")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not (args.output_dir / "README.md").is_file():
        print(f"warning: {args.output_dir} has no README.md; the repo will have no model card.", file=sys.stderr)
    # An output directory trained without matplotlib gets its learning curves now, and its card shows them.
    if args.output_dir.is_dir() and not (args.output_dir / CURVES_FILE).is_file() and write_training_curves(args.output_dir):
        add_curves_to_card(args.output_dir)
    try:
        url = push_output_dir(
            args.output_dir,
            args.hub_model_id,
            token=args.token,
            private=True if args.private else None,
            commit_message=args.commit_message,
        )
    except PushError as error:
        return fail("nsmc-push", error)
    print(url)
    return 0


# nsmc-serve



def parse_serve_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nsmc-serve",
        description="Serve an NSMC classifier as a web page and a JSON API (POST /api/classify), "
        "or write a Hugging Face Space that does.",
    )
    parser.add_argument(
        "--model", "--model_name_or_path", dest="model", required=True, help="Model directory or Hub id."
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="Address to listen on (default 127.0.0.1: this machine only). 0.0.0.0 opens the demo, "
        "which has no login, to every machine that can reach this one.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--share",
        action="store_true",
        help="Also serve through a public gradio.live link (the book used ngrok): anyone with the link can use it.",
    )
    parser.add_argument(
        "--max_batch_size",
        type=int,
        default=DEFAULT_MAX_BATCH_SIZE,
        help="Most texts gathered from concurrent requests into one batch; 1 turns batching off.",
    )
    parser.add_argument(
        "--batch_size",
        type=int,
        help=f"Texts per forward pass, once a gathered batch is sorted by length (default: {CPU_BATCH_SIZE} "
        "on the CPU, --max_batch_size on a GPU).",
    )
    parser.add_argument(
        "--max_wait_ms",
        type=float,
        default=DEFAULT_MAX_WAIT_MS,
        help="Most a batch waits for requests expected under load (as many as the last batch held); "
        "a lone client never waits.",
    )
    parser.add_argument(
        "--max_seq_length", type=int, default=MAX_SEQ_LENGTH, help="Longer texts are truncated."
    )
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu).")
    parser.add_argument("--token", help="Hub token for a private model or --push_space (default: HF_TOKEN).")
    parser.add_argument(
        "--write_space", type=Path, metavar="DIR", help="Write a Space running this demo into DIR and exit."
    )
    parser.add_argument("--push_space", metavar="USER/NAME", help="With --write_space: upload DIR as this Space.")
    args = parser.parse_args(argv)
    if args.push_space and not args.write_space:
        parser.error("--push_space needs --write_space DIR")
    if args.max_batch_size < 1 or (args.batch_size is not None and args.batch_size < 1):
        parser.error("--max_batch_size and --batch_size must be at least 1")
    return args


def serve_main(argv: Sequence[str] | None = None) -> int:
    args = parse_serve_args(argv)
    try:
        if args.write_space:
            for path in write_space(args.write_space, args.model):
                print(path)
            if args.push_space:
                print(push_space(args.write_space, args.push_space, args.token))
            return 0
        if args.host != DEFAULT_HOST or args.share:
            print("nsmc-serve: warning: the demo has no login; anyone who can reach it can use it", file=sys.stderr)
        serve(
            args.model,
            args.host,
            args.port,
            args.share,
            args.max_batch_size,
            args.batch_size,
            args.max_wait_ms,
            args.max_seq_length,
            args.device,
            args.token,
        )
    except (ServeError, ModelLoadError) as error:
        return fail("nsmc-serve", error)
    return 0


if __name__ == "__main__":
    sys.exit(main())


# nsmc-download


def download_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nsmc-download",
        description="Download and verify NSMC's ratings_train.txt and ratings_test.txt; print their directory.",
    )
    parser.add_argument("--cache_dir", help=f"Cache directory (default: ${CACHE_DIR_ENV} or {DEFAULT_CACHE_DIR}).")
    parser.add_argument(
        "--base_url", help=f"Where the files are served (default: ${BASE_URL_ENV} or {PUBLISHED_BASE_URL})."
    )
    parser.add_argument(
        "--blob_ids",
        type=parse_blob_ids,
        help=f"Expected ids as name=<sha1>,name=<sha1> (default: ${BLOB_IDS_ENV} or the published ids).",
    )
    parser.add_argument("--max_retries", type=int, default=4, help="Retries after the first attempt (default: 4).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        directory = download_nsmc(args.cache_dir, args.base_url, args.blob_ids, args.max_retries)
    except (DownloadError, ValueError) as error:
        return fail("nsmc-download", error)
    print(directory)
    return 0


if __name__ == "__main__":
    main()
