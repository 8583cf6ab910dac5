"""download_nsmc against a real HTTP server on 127.0.0.1 serving the shared NSMC sample."""

import functools
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nsmc_trainer.cli import download_main as main
from nsmc_trainer.download import (
    BASE_URL_ENV,
    BLOB_IDS_ENV,
    CACHE_DIR_ENV,
    NSMC_DOWNLOAD_FILES,
    DownloadError,
    download_nsmc,
    git_blob_id,
    parse_blob_ids,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nsmc-mini"
FAST = {"retry_delay": 0.001}


@pytest.fixture(scope="module")
def served_dir() -> Path:
    if not all((SHARED_DATA / name).is_file() for name in NSMC_DOWNLOAD_FILES):
        pytest.skip(f"the shared NSMC sample is not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="module")
def served_ids(served_dir: Path) -> dict[str, str]:
    return {name: git_blob_id(served_dir / name) for name in NSMC_DOWNLOAD_FILES}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (CACHE_DIR_ENV, BASE_URL_ENV, BLOB_IDS_ENV):
        monkeypatch.delenv(name, raising=False)
    # A proxy from the environment would intercept requests to 127.0.0.1.
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Server:
    """What the handler does and saw; tests change `fail_first` / `corrupt` before requesting."""

    base_url: str = ""
    requests: list[str] = field(default_factory=list)
    fail_first: int = 0  # answer this many requests with 500 before serving files
    corrupt: bool = False  # serve altered bytes
    httpd: http.server.ThreadingHTTPServer | None = None

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


def _make_handler(state: Server, directory: Path) -> type:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if state.fail_first > 0:
                state.fail_first -= 1
                self.send_error(500, "try again")
                return
            if state.corrupt:
                body = b"id\tdocument\tlabel\n1\tnot the served file\t0\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return functools.partial(Handler, directory=str(directory))


@pytest.fixture
def server(served_dir: Path) -> Iterator[Server]:
    state = Server()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state, served_dir))
    httpd.daemon_threads = True
    state.httpd = httpd
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield state
    state.stop()


def _assert_same_files(cache: Path, served_dir: Path) -> None:
    for name in NSMC_DOWNLOAD_FILES:
        assert (cache / name).read_bytes() == (served_dir / name).read_bytes()
    assert not list(cache.glob("*.part"))


def test_download_verifies_and_matches_served_files(tmp_path, server, served_dir, served_ids):
    cache = tmp_path / "cache"
    result = download_nsmc(cache, server.base_url, served_ids, **FAST)
    assert result == cache
    _assert_same_files(cache, served_dir)
    assert sorted(server.requests) == sorted(f"/{name}" for name in NSMC_DOWNLOAD_FILES)


def test_valid_cached_files_are_not_downloaded_again(tmp_path, server, served_ids):
    download_nsmc(tmp_path, server.base_url, served_ids, **FAST)
    server.requests.clear()
    assert download_nsmc(tmp_path, server.base_url, served_ids, **FAST) == tmp_path
    assert server.requests == []


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_damaged_cached_file_is_replaced(tmp_path, server, served_dir, served_ids, damage):
    download_nsmc(tmp_path, server.base_url, served_ids, **FAST)
    train = tmp_path / "ratings_train.txt"
    data = train.read_bytes()
    train.write_bytes(data[: len(data) // 2] if damage == "truncate" else data.replace(b"\t1\n", b"\t0\n", 1))
    server.requests.clear()
    download_nsmc(tmp_path, server.base_url, served_ids, **FAST)
    assert server.requests == ["/ratings_train.txt"]
    _assert_same_files(tmp_path, served_dir)


def test_wrong_bytes_are_rejected(tmp_path, server, served_ids):
    server.corrupt = True
    with pytest.raises(DownloadError) as excinfo:
        download_nsmc(tmp_path, server.base_url, served_ids, **FAST)
    message = str(excinfo.value)
    url = f"{server.base_url}/ratings_train.txt"
    assert url in message
    assert served_ids["ratings_train.txt"] in message
    served_bytes = b"id\tdocument\tlabel\n1\tnot the served file\t0\n"
    (tmp_path / "served").write_bytes(served_bytes)
    assert git_blob_id(tmp_path / "served") in message
    assert not (tmp_path / "ratings_train.txt").exists()
    assert not (tmp_path / "ratings_train.txt.part").exists()
    assert server.requests == ["/ratings_train.txt"]  # a mismatch is not retried


def test_published_ids_are_the_default_even_for_a_mirror(tmp_path, server):
    # The sample differs from the published files, so without overrides it must be refused.
    with pytest.raises(DownloadError, match="ac0dba272895dc1d0b3dd5f11afbeaeb7abe7876"):
        download_nsmc(tmp_path, server.base_url, **FAST)
    assert not list(tmp_path.iterdir())


def test_server_errors_are_retried(tmp_path, server, served_dir, served_ids):
    server.fail_first = 2
    download_nsmc(tmp_path, server.base_url, served_ids, max_retries=2, **FAST)
    _assert_same_files(tmp_path, served_dir)
    assert server.requests[:3] == ["/ratings_train.txt"] * 3


def test_server_errors_beyond_the_retries_fail(tmp_path, server, served_ids):
    server.fail_first = 10
    with pytest.raises(DownloadError, match="--data_dir"):
        download_nsmc(tmp_path, server.base_url, served_ids, max_retries=2, **FAST)
    assert len(server.requests) == 3
    assert not list(tmp_path.iterdir())


def test_not_found_fails_without_retries(tmp_path, server, served_ids):
    base_url = f"{server.base_url}/no-such-dir"
    with pytest.raises(DownloadError) as excinfo:
        download_nsmc(tmp_path, base_url, served_ids, **FAST)
    message = str(excinfo.value)
    assert f"{base_url}/ratings_train.txt" in message
    assert "404" in message
    assert server.requests == ["/no-such-dir/ratings_train.txt"]
    assert not list(tmp_path.iterdir())


def test_no_network_names_urls_and_data_dir(tmp_path, server, served_ids):
    base_url = server.base_url
    server.stop()  # nothing listens on the port any more: connection refused
    with pytest.raises(DownloadError) as excinfo:
        download_nsmc(tmp_path, base_url, served_ids, max_retries=2, **FAST)
    message = str(excinfo.value)
    for name in NSMC_DOWNLOAD_FILES:
        assert f"{base_url}/{name}" in message
    assert "--data_dir DIR" in message
    assert BASE_URL_ENV in message
    assert not list(tmp_path.iterdir())


def test_environment_variables_are_honoured(tmp_path, monkeypatch, server, served_dir, served_ids):
    cache = tmp_path / "from-env"
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache))
    monkeypatch.setenv(BASE_URL_ENV, server.base_url + "/")
    monkeypatch.setenv(BLOB_IDS_ENV, ",".join(f"{name}={blob_id}" for name, blob_id in served_ids.items()))
    assert download_nsmc(**FAST) == cache
    _assert_same_files(cache, served_dir)
    assert len(server.requests) == len(NSMC_DOWNLOAD_FILES)


def test_default_cache_is_korpora_layout(tmp_path, monkeypatch, server, served_ids):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert download_nsmc(base_url=server.base_url, expected_blob_ids=served_ids, **FAST) == (
        tmp_path / "Korpora" / "nsmc"
    )


def test_bad_blob_ids_env_is_a_clear_error(tmp_path, monkeypatch, server):
    monkeypatch.setenv(BLOB_IDS_ENV, "ratings_train.txt=nothex")
    with pytest.raises(ValueError, match=BLOB_IDS_ENV):
        download_nsmc(tmp_path, server.base_url, **FAST)


def test_parse_blob_ids():
    blob_id = "a" * 40
    assert parse_blob_ids(f" ratings_train.txt={blob_id.upper()} ,") == {"ratings_train.txt": blob_id}
    with pytest.raises(ValueError):
        parse_blob_ids("ratings_train.txt")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_blob_id_matches_git_hash_object(served_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.touch()
    for path in [served_dir / "ratings_test.txt", empty]:
        expected = subprocess.run(
            ["git", "hash-object", "--no-filters", str(path)], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert git_blob_id(path) == expected


def test_cli_prints_directory(tmp_path, server, served_ids, capsys):
    ids = ",".join(f"{name}={blob_id}" for name, blob_id in served_ids.items())
    assert main(["--cache_dir", str(tmp_path), "--base_url", server.base_url, "--blob_ids", ids]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)


def test_cli_reports_errors(tmp_path, server, capsys):
    assert main(["--cache_dir", str(tmp_path), "--base_url", server.base_url + "/missing"]) == 1
    assert "404" in capsys.readouterr().err
