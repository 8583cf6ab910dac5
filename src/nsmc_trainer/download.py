"""NSMC's download into a local cache (`~/Korpora/nsmc`, shared with ratsnlp and Korpora) when no
`--data_dir` is given: every file verified by its git blob id, written to `.part` and renamed, and
retried on network errors. The README's "Data" section says where and how to override it."""

import hashlib
import http.client
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

PUBLISHED_BASE_URL = "https://raw.githubusercontent.com/e9t/nsmc/master"
DEFAULT_CACHE_DIR = Path("~/Korpora/nsmc")
# The ids the NSMC repository's git tree gives for its files.
PUBLISHED_BLOB_IDS = {
    "ratings_train.txt": "ac0dba272895dc1d0b3dd5f11afbeaeb7abe7876",
    "ratings_test.txt": "b6cfcd8cd1557bcd9bf06617b0e429ed73e9a367",
    "ratings.txt": "9cd603e0d9a3685955fd8994052be3ae143dafdb",
}
# The files `nsmc_trainer.data.load_nsmc` reads.
NSMC_DOWNLOAD_FILES = ("ratings_train.txt", "ratings_test.txt")

CACHE_DIR_ENV = "NSMC_CACHE_DIR"
BASE_URL_ENV = "NSMC_BASE_URL"
BLOB_IDS_ENV = "NSMC_BLOB_IDS"

_CHUNK_SIZE = 1 << 20
_TIMEOUT_S = 60.0
_NO_NETWORK_HINT = (
    "no network? download the files yourself and pass --data_dir DIR, or set NSMC_BASE_URL to a mirror"
)


class DownloadError(RuntimeError):
    """A file could not be fetched or was not the file expected; the message says what to do."""


class _RetryableError(Exception):
    """A failure that asking again might cure (connection trouble, short read, 5xx)."""


def git_blob_id(path: str | Path) -> str:
    """Git's id for the file's content, streamed so a 19 MB file is not held in memory."""
    path = Path(path)
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode("ascii"))
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def parse_blob_ids(text: str) -> dict[str, str]:
    """Parse `name=<sha1>,name=<sha1>`, the form of `NSMC_BLOB_IDS` and `--blob_ids`."""
    ids = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, blob_id = item.partition("=")
        blob_id = blob_id.strip().lower()
        if not sep or not name.strip() or len(blob_id) != 40 or any(c not in "0123456789abcdef" for c in blob_id):
            raise ValueError(
                f"bad blob id entry {item!r}: expected <file name>=<40 hex digits>, "
                "e.g. ratings_train.txt=ac0dba272895dc1d0b3dd5f11afbeaeb7abe7876"
            )
        ids[name.strip()] = blob_id
    return ids


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR
    return Path(cache_dir).expanduser()


def resolve_base_url(base_url: str | None = None) -> str:
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV) or PUBLISHED_BASE_URL
    return base_url.rstrip("/")


def resolve_blob_ids(expected_blob_ids: Mapping[str, str] | None = None) -> dict[str, str]:
    """Published ids, overridden by the argument or else by `NSMC_BLOB_IDS` (see the module doc)."""
    ids = dict(PUBLISHED_BLOB_IDS)
    if expected_blob_ids is not None:
        ids.update({name: blob_id.lower() for name, blob_id in expected_blob_ids.items()})
    elif os.environ.get(BLOB_IDS_ENV):
        try:
            ids.update(parse_blob_ids(os.environ[BLOB_IDS_ENV]))
        except ValueError as error:
            raise ValueError(f"{BLOB_IDS_ENV}: {error}") from None
    return ids


def download_nsmc(
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    expected_blob_ids: Mapping[str, str] | None = None,
    max_retries: int = 4,
    retry_delay: float = 1.0,
) -> Path:
    """Make sure the cache holds verified NSMC train and test files; return its directory.

    `retry_delay` is the first backoff wait in seconds; it doubles after each failed attempt,
    and `max_retries` attempts follow the first one.
    """
    directory = resolve_cache_dir(cache_dir)
    base_url = resolve_base_url(base_url)
    blob_ids = resolve_blob_ids(expected_blob_ids)
    urls = [f"{base_url}/{name}" for name in NSMC_DOWNLOAD_FILES]
    directory.mkdir(parents=True, exist_ok=True)
    for name, url in zip(NSMC_DOWNLOAD_FILES, urls):
        path = directory / name
        expected = blob_ids[name]
        if path.is_file():
            actual = git_blob_id(path)
            if actual == expected:
                logger.info("%s is already present and valid (blob %s)", path, actual)
                continue
            logger.warning(
                "%s has blob id %s, expected %s (truncated or corrupt?); downloading it again", path, actual, expected
            )
        _download_with_retries(url, path, expected, urls, max_retries, retry_delay)
    return directory


def _download_with_retries(
    url: str, path: Path, expected: str, all_urls: list[str], max_retries: int, retry_delay: float
) -> None:
    for attempt in range(max_retries + 1):
        try:
            _download_once(url, path, expected)
            return
        except _RetryableError as error:
            if attempt == max_retries:
                raise DownloadError(
                    f"could not download {url} after {max_retries + 1} attempt(s) (last error: {error}). "
                    f"NSMC files: {', '.join(all_urls)}. {_NO_NETWORK_HINT}."
                ) from None
            delay = retry_delay * 2**attempt
            logger.warning("Downloading %s failed (%s); retrying in %.3g s", url, error, delay)
            time.sleep(delay)


def _download_once(url: str, path: Path, expected: str) -> None:
    """Fetch `url` into `<path>.part`, check its blob id, then rename it to `path`."""
    part = path.with_name(path.name + ".part")
    try:
        with _open_url(url) as response:
            _stream_to(response, part, url)
        actual = git_blob_id(part)
        if actual != expected:
            raise DownloadError(
                f"{url}: downloaded file has git blob id {actual}, expected {expected}; it was discarded. "
                f"If this mirror deliberately serves other files, give their ids with {BLOB_IDS_ENV} or --blob_ids."
            )
        os.replace(part, path)
        logger.info("Downloaded %s to %s (blob %s)", url, path, actual)
    finally:
        part.unlink(missing_ok=True)


# What the network raises: URLError (refused, DNS), TimeoutError and ConnectionError (both
# OSError), IncompleteRead and friends (HTTPException). Errors writing the cache are not here:
# they are local and retrying would not help.
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


def _open_url(url: str) -> http.client.HTTPResponse:
    try:
        return urllib.request.urlopen(url, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            raise _RetryableError(f"HTTP {error.code} {error.reason}") from None
        raise DownloadError(
            f"{url}: HTTP {error.code} {error.reason}. Check the base URL ({BASE_URL_ENV} or --base_url): "
            f"it must be a directory holding {', '.join(NSMC_DOWNLOAD_FILES)}."
        ) from None
    except _NETWORK_ERRORS as error:
        raise _RetryableError(_describe(error)) from None


def _describe(error: BaseException) -> str:
    return str(getattr(error, "reason", None) or error) or type(error).__name__


def _stream_to(response: http.client.HTTPResponse, part: Path, url: str) -> None:
    length_header = response.headers.get("Content-Length")
    total = int(length_header) if length_header and length_header.isdigit() else None
    received = 0
    with part.open("wb") as file, tqdm(
        total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=part.name[: -len(".part")], disable=None
    ) as progress:
        while True:
            try:
                chunk = response.read(_CHUNK_SIZE)
            except _NETWORK_ERRORS as error:
                problem = f"{url}: transfer interrupted after {received} bytes ({_describe(error)})"
                raise _RetryableError(problem) from None
            if not chunk:
                break
            file.write(chunk)
            received += len(chunk)
            progress.update(len(chunk))
    if total is not None and received != total:
        # urllib returns a short body without complaint when the connection drops.
        raise _RetryableError(f"{url}: connection closed after {received} of {total} bytes")
