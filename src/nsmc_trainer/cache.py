"""On-disk caches that are reused only while every byte is as it was written.

Both caches of a run, the parsed corpus (data.py) and the tokenized features (features.py), are
Arrow files that later runs memory-map. Next to each entry a manifest `<entry>.json` records the
SHA-256 digest of every file in it. The manifest is written last and renamed into place, so an
entry is reused only when it was completed and nothing in it changed since; a truncated,
garbled or missing file is reported and the entry built again.
"""

import hashlib
import json
import os
from pathlib import Path

import datasets

# What reading a damaged entry raises: digest mismatch or bad JSON (ValueError), Arrow's own
# ArrowInvalid (a ValueError) or IO errors, and a manifest of the wrong shape.
DAMAGED_CACHE_ERRORS = (ValueError, OSError, LookupError, TypeError)


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
    entries = [{"file": path.relative_to(manifest.parent).as_posix(), "sha256": file_sha256(path)} for path in files]
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
