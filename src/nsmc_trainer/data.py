"""Data files (NSMC, or the user's TSV, CSV and JSON Lines) -> `DatasetDict` of `id`, `document`, `label`.

One reader for every file, training or prediction: each problem is a `DataFileError` naming the
file, the line and the fix, and safe repairs (BOM, CRLF, blank lines) are made and logged. The
parsed corpus is cached by the files' bytes (cache.py). The README's "Your own data" says which
rows are kept, repaired or refused.
"""

import csv
import hashlib
import io
import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from .cache import default_cache_dir, file_sha256, load_or_build, write_manifest
from .config import ID_COLUMN, LABEL_COLUMN, NSMC_LABELS, TEXT_COLUMN, DataArguments
from .download import download_nsmc

logger = logging.getLogger(__name__)

NSMC_SPLIT_FILES = {"train": "ratings_train.txt", "test": "ratings_test.txt"}
FILE_FORMATS = {".tsv": "tsv", ".txt": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
NO_LABEL = -1
# Bump when parsing changes what a file reads as, so that corpora cached before are read again.
CORPUS_VERSION = "1"
CP949_HINT = "Korean files saved as CP949/EUC-KR convert with `iconv -f cp949 -t utf-8 IN > OUT`"


class DataFileError(ValueError):
    """A problem in an input file, reported with its place and the way to fix it."""

    def __init__(self, path: Path | str, line: int | None, problem: str, fix: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}. {fix}.")
        self.path = str(path)
        self.line = line


@dataclass
class RawSplit:
    """One file's rows before labels are encoded; `lines` keeps each row's line for error messages."""

    path: Path
    ids: list[str]
    documents: list[str]
    labels: list[str] | None
    lines: list[int]
    has_id_column: bool


def corpus_features(class_names: Sequence[str]) -> Features:
    return Features(
        {ID_COLUMN: Value("string"), TEXT_COLUMN: Value("string"), LABEL_COLUMN: ClassLabel(names=list(class_names))}
    )


def parse_class_names(text: str | None) -> list[str] | None:
    """`--class_names negative,positive` -> ["negative", "positive"]; None when the flag is not set."""
    if not text:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def read_text(path: Path) -> str:
    """The file's text as UTF-8, with a BOM dropped and CRLF turned into LF (both logged)."""
    if not path.is_file():
        raise DataFileError(
            path,
            None,
            "file not found",
            "Check the path given to --train_file, --validation_file, --test_file or --data_dir",
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        problem = f"bytes {data[error.start:error.end]!r} are not UTF-8"
        raise DataFileError(path, line, problem, f"Re-save the file as UTF-8; {CP949_HINT}") from None
    if text.startswith("\ufeff"):
        logger.info("%s: removed the UTF-8 byte order mark at the start", path)
        text = text[1:]
    crlf = text.count("\r\n")
    if crlf:
        logger.info("%s: converted %d CRLF line ends to LF", path, crlf)
        text = text.replace("\r\n", "\n")
    return text


def _nonblank_lines(text: str) -> tuple[list[int], list[str], int]:
    """The numbers and texts of the lines holding more than whitespace, and the number of blank ones."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    numbers = [number for number, line in enumerate(lines, start=1) if line.strip()]
    return numbers, [lines[number - 1] for number in numbers], len(lines) - len(numbers)


@dataclass
class Table:
    """A TSV or CSV file's header and its rows' fields in one flat list, row after row.

    Flat, because a list per row makes the cyclic garbage collector rescan 200K lists (BENCHMARKS.md).
    """

    header_line: int
    header: list[str]
    lines: list[int]
    field_counts: list[int]
    fields: list[str]
    blank: int


def _tsv_table(text: str) -> Table | None:
    numbers, lines, blank = _nonblank_lines(text)
    if not lines:
        return None
    body = lines[1:]
    field_counts = [line.count("\t") + 1 for line in body]
    fields = "\t".join(body).split("\t") if body else []
    return Table(numbers[0], lines[0].split("\t"), numbers[1:], field_counts, fields, blank)


def _csv_table(path: Path, text: str) -> Table | None:
    """Quoted CSV records, each with the line it starts on."""
    reader = csv.reader(io.StringIO(text), strict=True)
    rows, blank, start = [], 0, 1
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                rows.append((start, fields))
            else:
                blank += 1
            start = reader.line_num + 1
    except csv.Error as error:
        raise DataFileError(
            path,
            start,
            f"the CSV row cannot be parsed ({error})",
            'A field holding a comma, quote or line break must be in double quotes, with each " inside it doubled',
        ) from None
    if not rows:
        return None
    body = rows[1:]
    return Table(
        header_line=rows[0][0],
        header=rows[0][1],
        lines=[line for line, _ in body],
        field_counts=[len(fields) for _, fields in body],
        fields=[field for _, fields in body for field in fields],
        blank=blank,
    )


def _read_table(
    path: Path, file_format: str, text_column: str, label_column: str, labels_required: bool
) -> tuple[RawSplit, int]:
    text = read_text(path)
    table = _csv_table(path, text) if file_format == "csv" else _tsv_table(text)
    separator = "," if file_format == "csv" else "<TAB>"
    example = separator.join((ID_COLUMN, text_column, label_column))
    if table is None:
        raise DataFileError(
            path, None, "the file is empty", f"Write a header line such as {example!r}, then one example per line"
        )
    header = table.header
    for column in (text_column, label_column) if labels_required else (text_column,):
        if column not in header:
            raise DataFileError(
                path,
                table.header_line,
                f"the header {separator.join(header)!r} has no column {column!r}",
                f"The first line must name the columns, e.g. {example!r}. If your column has another name, "
                f"pass it with --{'text' if column == text_column else 'label'}_column_name",
            )
    misfit = next((row for row, count in enumerate(table.field_counts) if count != len(header)), None)
    if misfit is not None:
        raise DataFileError(
            path,
            table.lines[misfit],
            f"expected {len(header)} {'comma' if file_format == 'csv' else 'tab'}-separated fields "
            f"({', '.join(header)}), found {table.field_counts[misfit]}",
            "A tab inside a document adds a field (TSV is unquoted, like NSMC): replace it with a space"
            if file_format == "tsv"
            else "Put a field that contains a comma in double quotes",
        )
    columns = {name: table.fields[index :: len(header)] for index, name in enumerate(header)}
    split = RawSplit(
        path,
        ids=columns[ID_COLUMN] if ID_COLUMN in columns else [str(line) for line in table.lines],
        documents=columns[text_column],
        labels=[label.strip() for label in columns[label_column]] if label_column in columns else None,
        lines=table.lines,
        has_id_column=ID_COLUMN in columns,
    )
    return split, table.blank


def _read_jsonl(path: Path, text_column: str, label_column: str, labels_required: bool) -> tuple[RawSplit, int]:
    numbers, lines, blank = _nonblank_lines(read_text(path))
    if not lines:
        raise DataFileError(path, None, "the file is empty", "Write one JSON object per line (JSON Lines)")
    split = None
    for line, text in zip(numbers, lines):
        record = _json_object(path, line, text)
        if split is None:
            labelled = labels_required or label_column in record
            split = RawSplit(path, [], [], [] if labelled else None, [], ID_COLUMN in record)
        keys = (text_column, label_column) if split.labels is not None else (text_column,)
        for key in keys:
            if key not in record:
                raise DataFileError(
                    path,
                    line,
                    f"the object has no key {key!r} (keys: {', '.join(record)})",
                    f"Add it, or pass --{'text' if key == text_column else 'label'}_column_name with the key to use",
                )
        document = record[text_column]
        if not isinstance(document, str):
            raise DataFileError(path, line, f"{text_column!r} is {document!r}, not a string", 'Use "" for no text')
        split.ids.append(str(record[ID_COLUMN]) if ID_COLUMN in record else str(line))
        split.documents.append(document)
        if split.labels is not None:
            split.labels.append(_json_label(path, line, record[label_column]))
        split.lines.append(line)
    return split, blank


def _json_object(path: Path, line: int, text: str) -> dict:
    fix = 'Write one JSON object per line (JSON Lines), e.g. {"document": "재밌다", "label": 1}'
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataFileError(path, line, f"invalid JSON ({error.msg} at column {error.colno})", fix) from None
    if not isinstance(record, dict):
        raise DataFileError(path, line, f"a JSON {type(record).__name__}, not an object", fix)
    return record


def _json_label(path: Path, line: int, label: object) -> str:
    if isinstance(label, bool) or not isinstance(label, int | str):
        raise DataFileError(path, line, f"label {label!r} is not an integer or a string", "Fix the label")
    return str(label).strip()


def read_data_file(
    path: str | Path, text_column: str = TEXT_COLUMN, label_column: str = LABEL_COLUMN, labels_required: bool = True
) -> RawSplit:
    """Read a TSV (.tsv/.txt), CSV (.csv) or JSON Lines (.jsonl/.json) file, chosen by its extension.

    With `labels_required=False` a file without the label column is accepted as prediction-only.
    """
    path = Path(path)
    file_format = FILE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise DataFileError(
            path, None, f"unknown file type {path.suffix!r}", f"Name the file with one of {', '.join(FILE_FORMATS)}"
        )
    if file_format == "jsonl":
        split, blank = _read_jsonl(path, text_column, label_column, labels_required)
    else:
        split, blank = _read_table(path, file_format, text_column, label_column, labels_required)
    if not split.ids:
        raise DataFileError(path, None, "the file has a header but no rows", "Add examples, one per line")
    empty = sum(1 for document in split.documents if not document.strip())
    logger.info(
        "Read %d rows from %s (%d with an empty document, kept as ''; %d blank lines skipped)%s",
        len(split.ids),
        path,
        empty,
        blank,
        "" if split.labels is not None else f"; no {label_column!r} column, so it is prediction-only",
    )
    if split.has_id_column:
        warn_duplicate_ids(split)
    return split


def warn_duplicate_ids(split: RawSplit, shown: int = 5) -> None:
    """Duplicates are kept (they may be genuine repeats), but said so: they often mean a merge went wrong."""
    if len(set(split.ids)) == len(split.ids):
        return
    first_line: dict[str, int] = {}
    repeats = []
    for line, row_id in zip(split.lines, split.ids):
        if row_id in first_line:
            repeats.append(f"line {line} repeats line {first_line[row_id]}")
        else:
            first_line[row_id] = line
    if repeats:
        more = f", and {len(repeats) - shown} more" if len(repeats) > shown else ""
        logger.warning(
            "%s: %d rows have an id seen earlier in the file (%s%s); all are kept",
            split.path,
            len(repeats),
            "; ".join(repeats[:shown]),
            more,
        )


def _is_integer(text: str) -> bool:
    return text.lstrip("-").isdigit()


def class_names_from(train: RawSplit) -> list[str]:
    """The training file's distinct labels, sorted as numbers when they all are numbers."""
    labels = set(train.labels)
    if all(_is_integer(label) for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def encode_labels(split: RawSplit, class_names: Sequence[str], by_index: bool, fix: str) -> list[int]:
    """Label strings -> class ids.

    With `by_index` (names given by flag or NSMC), "0".."n-1" also name classes, as NSMC's 0/1
    do, unless some names are numbers themselves, where indices would be ambiguous.
    """
    ids = {name: index for index, name in enumerate(class_names)}
    by_index = by_index and not any(_is_integer(name) for name in class_names)
    if by_index:
        ids.update({str(index): index for index in range(len(class_names))})
    unknown = next(((line, label) for line, label in zip(split.lines, split.labels) if label not in ids), None)
    if unknown is not None:
        line, label = unknown
        known = ", ".join(class_names) + (f" (or 0-{len(class_names) - 1})" if by_index else "")
        raise DataFileError(split.path, line, f"label {label!r} is not one of {known}", fix)
    return [ids[label] for label in split.labels]


def build_corpus(splits: dict[str, RawSplit], class_names: Sequence[str] | None = None) -> DatasetDict:
    """Encode every split's labels against one set of class names and make Datasets of them."""
    by_index = class_names is not None
    if class_names is None:
        class_names = class_names_from(splits["train"])
        fix = "Every label must occur in the training file; fix the row, or list all labels with --class_names"
    else:
        fix = "Fix the row, or list every label with --class_names"
    logger.info("Classes: %s", dict(enumerate(class_names)))
    features = corpus_features(class_names)
    corpus = {}
    for name, split in splits.items():
        if split.labels is None:
            labels = [NO_LABEL] * len(split.ids)
        else:
            labels = encode_labels(split, class_names, by_index, fix)
        # Arrow arrays are cast a column at a time; Python lists would be encoded value by value.
        columns = {
            ID_COLUMN: pa.array(split.ids, pa.string()),
            TEXT_COLUMN: pa.array(split.documents, pa.string()),
            LABEL_COLUMN: pa.array(labels, pa.int64()),
        }
        corpus[name] = Dataset.from_dict(columns, features=features)
    return DatasetDict(corpus)


def load_files(
    data_files: dict[str, str | Path],
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    class_names: Sequence[str] | None = None,
) -> DatasetDict:
    """Read a split per file ("train" required); only "test" may lack labels."""
    splits = {
        split: read_data_file(path, text_column, label_column, labels_required=split != "test")
        for split, path in data_files.items()
    }
    return build_corpus(splits, class_names)


def nsmc_files(data_dir: str | Path) -> dict[str, Path]:
    """NSMC's two files in `data_dir`, as published: `ratings_train.txt` and `ratings_test.txt`."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataFileError(
            data_dir, None, "directory not found", "Pass --data_dir pointing at a directory with the NSMC files"
        )
    return {split: data_dir / file_name for split, file_name in NSMC_SPLIT_FILES.items()}


def load_nsmc(
    data_dir: str | Path,
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    class_names: Sequence[str] = NSMC_LABELS,
) -> DatasetDict:
    """Read NSMC from `data_dir`; labels 0/1 are negative/positive."""
    return load_files(nsmc_files(data_dir), text_column, label_column, class_names)


def has_labels(dataset: Dataset) -> bool:
    return NO_LABEL not in dataset.unique(LABEL_COLUMN)


def evaluation_split(corpus: DatasetDict, source: str | Path = "the corpus") -> str:
    """The split evaluated after every epoch: "validation", else a labelled "test"; `source` names
    the data in the error when there is neither."""
    if "validation" in corpus:
        return "validation"
    if "test" in corpus and has_labels(corpus["test"]):
        return "test"
    raise DataFileError(
        source, None, "there is no labelled data to evaluate on", "Pass --validation_file, or a --test_file with a label column"
    )


def corpus_fingerprint(
    data_files: dict[str, Path], text_column: str, label_column: str, class_names: Sequence[str] | None
) -> str:
    """Everything a parsed corpus depends on: the files' bytes and formats, the flags that read them."""
    key = [CORPUS_VERSION, text_column, label_column, repr(None if class_names is None else list(class_names))]
    key += [f"{split}:{path.suffix.lower()}:{file_sha256(path)}" for split, path in data_files.items()]
    return hashlib.sha256("|".join(key).encode("utf-8")).hexdigest()[:16]


def save_corpus(corpus: DatasetDict, directory: Path, manifest: Path) -> None:
    """Saved under a temporary name and renamed, so the directory only ever appears complete.

    When the rename finds the directory there, another process (or a run stopped before writing
    the manifest) saved the same corpus: it is kept, and given its manifest if it lacks one.
    """
    partial = directory.with_name(f"{directory.name}.part-{os.getpid()}")
    corpus.save_to_disk(str(partial))
    try:
        partial.rename(directory)
    except OSError:
        shutil.rmtree(partial)
    if not manifest.exists():
        write_manifest(manifest, sorted(path for path in directory.rglob("*") if path.is_file()))


def load_files_cached(
    data_files: dict[str, Path],
    text_column: str,
    label_column: str,
    class_names: Sequence[str] | None,
    cache_dir: Path,
    overwrite_cache: bool = False,
) -> DatasetDict:
    """`load_files`, remembered by the files' bytes, so that a later run memory-maps it.

    The first run returns the saved copy too, so both runs see the same datasets fingerprint and
    find the same features.
    """
    if not all(path.is_file() for path in data_files.values()):
        return load_files(data_files, text_column, label_column, class_names)  # reports the missing file
    directory = cache_dir / f"corpus-{corpus_fingerprint(data_files, text_column, label_column, class_names)}"
    manifest = directory.with_name(directory.name + ".json")

    def build() -> DatasetDict:
        corpus = load_files(data_files, text_column, label_column, class_names)
        evaluation_split(corpus, data_files["train"])  # a corpus that cannot be trained on is not cached
        cache_dir.mkdir(parents=True, exist_ok=True)
        save_corpus(corpus, directory, manifest)
        logger.info("Cached the parsed corpus in %s: later runs on the same files reuse it", directory)
        return DatasetDict.load_from_disk(str(directory))

    corpus, reused = load_or_build(
        manifest,
        load=lambda files: DatasetDict.load_from_disk(str(directory)),
        build=build,
        remove=lambda: remove_corpus(directory, manifest),
        damaged_warning=f"The cached corpus {directory} is damaged (%s); reading the files again",
        overwrite=overwrite_cache,
    )
    if reused:
        files = ", ".join(map(str, data_files.values()))
        sizes = ", ".join(f"{split} {len(dataset)} rows" for split, dataset in corpus.items())
        logger.info("Reusing the corpus read earlier from the same bytes of %s (%s): %s", files, sizes, directory)
    return corpus


def remove_corpus(directory: Path, manifest: Path) -> None:
    manifest.unlink(missing_ok=True)
    shutil.rmtree(directory, ignore_errors=True)


def load_corpus(data_args: DataArguments) -> DatasetDict:
    """The corpus the flags name, cut to --max_train_samples / --max_eval_samples.

    Own files (--train_file) take precedence over --data_dir; with neither, NSMC is downloaded.
    """
    class_names = parse_class_names(data_args.class_names)
    if data_args.train_file:
        named = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
        data_files = {split: Path(path) for split, path in named.items() if path}
    elif data_args.validation_file or data_args.test_file:
        raise DataFileError(
            data_args.validation_file or data_args.test_file,
            None,
            "given without a training file",
            "Pass --train_file as well, or drop it to train on NSMC",
        )
    else:
        data_dir = data_args.data_dir or download_nsmc(data_args.nsmc_cache_dir, data_args.nsmc_base_url)
        data_files = nsmc_files(data_dir)
        class_names = class_names or NSMC_LABELS
    corpus = load_files_cached(
        data_files,
        data_args.text_column_name,
        data_args.label_column_name,
        class_names,
        Path(data_args.features_cache_dir) if data_args.features_cache_dir else default_cache_dir(),
        data_args.overwrite_cache,
    )
    eval_split = evaluation_split(corpus, data_files["train"])
    limits = (
        ("train", data_args.max_train_samples, "--max_train_samples"),
        (eval_split, data_args.max_eval_samples, "--max_eval_samples"),
    )
    for split, limit, flag in limits:
        if limit is not None and limit < len(corpus[split]):
            logger.info("Using the first %d of the %d '%s' examples (%s)", limit, len(corpus[split]), split, flag)
            corpus[split] = corpus[split].select(range(limit))
    return corpus
