"""NSMC files -> `datasets.DatasetDict`.

NSMC is published as tab-separated text with the header `id<TAB>document<TAB>label` and no
quoting: a review may contain `"`, so a CSV reader with default quoting would silently merge
rows. We therefore split lines ourselves, which also lets every problem be reported with the
file and line number where it is.
"""

import logging
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from .config import NSMC_LABELS, DataArguments
from .download import download_nsmc

logger = logging.getLogger(__name__)

NSMC_COLUMNS = ("id", "document", "label")
NSMC_SPLIT_FILES = {"train": "ratings_train.txt", "test": "ratings_test.txt"}


class DataFileError(ValueError):
    """A problem in an input file, reported with its place and the way to fix it."""

    def __init__(self, path: Path | str, line: int | None, problem: str, fix: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}. {fix}")
        self.path = str(path)
        self.line = line


def nsmc_features() -> Features:
    return Features(
        {"id": Value("string"), "document": Value("string"), "label": ClassLabel(names=list(NSMC_LABELS))}
    )


def read_nsmc_file(path: Path) -> dict[str, list]:
    """Parse one NSMC-format file into columns, failing on the first malformed line."""
    if not path.is_file():
        raise DataFileError(
            path, None, "file not found", "Pass --data_dir pointing at a directory with the NSMC files."
        )
    text = _decode_utf8(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise DataFileError(path, 1, "the file is empty", f"Expected the header {'<TAB>'.join(NSMC_COLUMNS)}.")
    header = tuple(lines[0].split("\t"))
    if header != NSMC_COLUMNS:
        raise DataFileError(
            path,
            1,
            f"the header is {lines[0]!r}",
            f"An NSMC file starts with the header {'<TAB>'.join(NSMC_COLUMNS)!r}.",
        )
    ids, documents, labels = [], [], []
    for line_number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataFileError(
                path,
                line_number,
                f"expected 3 tab-separated fields (id, document, label), found {len(fields)}",
                "Remove tabs from the document or fix the row.",
            )
        row_id, document, label = fields
        if label not in ("0", "1"):
            raise DataFileError(
                path, line_number, f"label {label!r} is not 0 or 1", "NSMC labels are 0 (negative) or 1 (positive)."
            )
        ids.append(row_id)
        documents.append(document)
        labels.append(int(label))
    return {"id": ids, "document": documents, "label": labels}


def _decode_utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataFileError(
            path, line, f"bytes {data[error.start:error.end]!r} are not UTF-8", "Re-save the file as UTF-8."
        ) from None


def load_nsmc(data_dir: str | Path) -> DatasetDict:
    """Read `ratings_train.txt` and `ratings_test.txt` from `data_dir` into train and test splits.

    Rows with an empty document are kept as "" (they exist in the published files and are
    labelled); their count is logged so nothing disappears unnoticed.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataFileError(
            data_dir, None, "directory not found", "Pass --data_dir pointing at a directory with the NSMC files."
        )
    splits = {}
    for split, file_name in NSMC_SPLIT_FILES.items():
        path = data_dir / file_name
        columns = read_nsmc_file(path)
        empty = sum(1 for document in columns["document"] if not document.strip())
        logger.info("Read %d rows from %s (%d with an empty document, kept as '')", len(columns["id"]), path, empty)
        splits[split] = Dataset.from_dict(columns, features=nsmc_features())
    return DatasetDict(splits)


def load_corpus(data_args: DataArguments) -> DatasetDict:
    """The corpus the flags name, cut to --max_train_samples / --max_eval_samples."""
    data_dir = data_args.data_dir or download_nsmc(data_args.nsmc_cache_dir, data_args.nsmc_base_url)
    corpus = load_nsmc(data_dir)
    if data_args.max_train_samples is not None:
        corpus["train"] = corpus["train"].select(range(min(data_args.max_train_samples, len(corpus["train"]))))
    if data_args.max_eval_samples is not None:
        corpus["test"] = corpus["test"].select(range(min(data_args.max_eval_samples, len(corpus["test"]))))
    return corpus
