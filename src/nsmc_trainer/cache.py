"""On-disk caches (the parsed corpus, the tokenized features) reused only while every byte is as written.

Each entry has a manifest `<entry>.json` with the SHA-256 of its files, written last and renamed
into place: an entry is reused only when it was completed and nothing in it changed since.
"""

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import datasets

logger = logging.getLogger(__name__)

# What reading a damaged entry raises: digest mismatch or bad JSON (ValueError), Arrow's own
# ArrowInvalid (a ValueError) or IO errors, and a manifest of the wrong shape.
DAMAGED_CACHE_ERRORS = (ValueError, OSError, LookupError, TypeError)

T = TypeVar("T")


def default_cache_dir() -> Path:
    return Path(datasets.config.HF_DATASETS_CACHE) / "nsmc_trainer"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(manifest: Path, files: list[Path]) -> None:
    """Record the digest of every file, named relative to the manifest's directory."""
    # Resolved: datasets names its cache files by absolute path, --features_cache_dir may be relative.
    directory = manifest.parent.resolve()
    entries = [{"file": path.resolve().relative_to(directory).as_posix(), "sha256": file_sha256(path)} for path in files]
    partial = manifest.with_name(f"{manifest.name}.part-{os.getpid()}")
    partial.write_text(json.dumps({"files": entries}, indent=1), encoding="utf-8")
    os.replace(partial, manifest)


def verified_files(manifest: Path) -> list[Path]:
    """The files the manifest lists, after checking every digest; raises one of DAMAGED_CACHE_ERRORS."""
    entries = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    paths = []
    for entry in entries:
        path = manifest.parent / entry["file"]
        if file_sha256(path) != entry["sha256"]:
            raise ValueError(f"{path.name} does not match its recorded SHA-256")
        paths.append(path)
    return paths


def load_or_build(
    manifest: Path,
    load: Callable[[list[Path]], T],
    build: Callable[[], T],
    remove: Callable[[], None],
    damaged_warning: str,
    overwrite: bool = False,
) -> tuple[T, bool]:
    """The cached entry of `manifest` if it is intact, else what `build` makes (and caches).

    `load` gets the verified files; a damaged entry is reported with `damaged_warning` (its `%s`
    is the error), removed and built again. The second value says whether the cache was used.
    """
    if overwrite:
        remove()
    elif manifest.exists():
        try:
            return load(verified_files(manifest)), True
        except DAMAGED_CACHE_ERRORS as error:
            logger.warning(damaged_warning, error)
            remove()
    return build(), False
