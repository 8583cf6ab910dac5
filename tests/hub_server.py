"""A local Hugging Face Hub speaking the HTTP protocol huggingface_hub 2.x uses, for tests.

The real Hub cannot be reached from the test machines, and mocking HfApi would only test our
mocks. This server implements the endpoints behind `create_repo`, `whoami`, `upload_folder`
(preupload, LFS batch + basic transfer + verify, NDJSON commit), `/api/validate-yaml`,
`repo_info`, `list_repo_tree` and `/resolve/` downloads, so `hf_hub_download`,
`snapshot_download` and `from_pretrained("user/repo")` run unmodified against it.

LFS objects live behind a second listener (the "CDN") on another port: like S3 it is a
different origin, so the client follows the Hub's redirect without the Authorization header and
uploads there with a signed URL only. The CDN rejects requests that carry a token, which checks
that the token never leaves the Hub.

Clients read HF_ENDPOINT when huggingface_hub is imported, so run them in a subprocess with
`server.client_env(...)`; uploads must have HF_HUB_DISABLE_XET=1 (Xet is not implemented here).

Tests get the `hub_server` fixture by importing it (into a test module or the conftest)::

    from hub_server import hub_server_fixture  # noqa: F401  (provides the fixture "hub_server")
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

USER = "test-user"
ORG = "test-org"
# The Hub refuses regular (non-LFS) files above 10 MB and binary files outside LFS.
REGULAR_FILE_MAX_SIZE = 10 * 1024 * 1024
REPO_TYPE_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
API_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
# The LFS patterns of the .gitattributes the Hub commits into every new repo (abridged).
LFS_PATTERNS = (
    "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs *.mlmodel *.model *.msgpack "
    "*.npy *.npz *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors "
    "*.tar.* *.tar *.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents*"
).split()
DEFAULT_GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS)
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def git_blob_id(data: bytes) -> str:
    """The Hub reports git object ids (ETag of regular files, tree `oid`), not plain hashes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class Identity:
    name: str
    orgs: tuple[str, ...]
    role: str  # "read" or "write", as in the Hub's fine-grained token roles

    def may_write(self, namespace: str) -> bool:
        return self.role == "write" and namespace in (self.name, *self.orgs)

    def may_read(self, namespace: str) -> bool:
        return namespace in (self.name, *self.orgs)


@dataclass(frozen=True)
class RepoEntry:
    """One file of a commit as git stores it: content, or an LFS pointer to `lfs_sha256`."""

    path: str
    size: int
    blob_id: str
    lfs_sha256: str | None = None
    pointer_size: int | None = None


@dataclass(frozen=True)
class Commit:
    oid: str
    title: str
    description: str
    parent: str | None
    entries: Mapping[str, RepoEntry]
    date: datetime


class BlobStore:
    """Regular blobs by git id and LFS objects by sha256, on disk so big weights stay out of RAM."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        (root / "lfs").mkdir(parents=True, exist_ok=True)

    def put_blob(self, data: bytes) -> str:
        blob_id = git_blob_id(data)
        (self.root / "blobs" / blob_id).write_bytes(data)
        return blob_id

    def blob(self, blob_id: str) -> bytes:
        return (self.root / "blobs" / blob_id).read_bytes()

    def lfs_path(self, sha256: str) -> Path:
        return self.root / "lfs" / sha256

    def has_lfs(self, sha256: str, size: int | None = None) -> bool:
        path = self.lfs_path(sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def put_lfs(self, sha256: str, data: bytes) -> None:
        tmp = self.lfs_path(sha256).with_suffix(f".{secrets.token_hex(4)}.tmp")
        tmp.write_bytes(data)
        tmp.replace(self.lfs_path(sha256))

    def read(self, entry: RepoEntry) -> bytes:
        if entry.lfs_sha256 is not None:
            return self.lfs_path(entry.lfs_sha256).read_bytes()
        return self.blob(entry.blob_id)


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    visibility: str
    store: BlobStore
    created_at: datetime
    commits: list[Commit] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)

    @property
    def private(self) -> bool:
        return self.visibility == "private"

    @property
    def namespace(self) -> str:
        return self.repo_id.split("/")[0]

    def commit(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision, revision)
        return next((c for c in self.commits if c.oid == oid), None)

    @property
    def head(self) -> Commit:
        head = self.commit("main")
        assert head is not None, "every repo gets an initial commit"
        return head

    @property
    def files(self) -> dict[str, bytes]:
        """Contents of the files on `main`, for assertions."""
        return {path: self.store.read(entry) for path, entry in self.head.entries.items()}


class HubServer:
    """The Hub and its CDN, each on an ephemeral 127.0.0.1 port, served from daemon threads."""

    def __init__(self, root: Path) -> None:
        self.store = BlobStore(root)
        self.token = "hf_test_write_" + secrets.token_hex(12)
        self.read_token = "hf_test_read_" + secrets.token_hex(12)
        self.identities = {
            self.token: Identity(USER, (ORG,), "write"),
            self.read_token: Identity(USER, (ORG,), "read"),
        }
        self.repos: dict[str, Repo] = {}
        self.requests: list[str] = []
        self.unhandled: list[str] = []
        self.cdn_requests_with_auth: list[str] = []
        self.lock = threading.RLock()
        self._secret = secrets.token_bytes(16)
        self._api = _Server(("127.0.0.1", 0), HubHandler, self)
        self._cdn = _Server(("127.0.0.1", 0), CdnHandler, self)
        self.url = f"http://127.0.0.1:{self._api.server_port}"
        self.cdn_url = f"http://127.0.0.1:{self._cdn.server_port}"
        self._threads: list[threading.Thread] = []

    def start(self) -> HubServer:
        for server in (self._api, self._cdn):
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Closes the listening sockets so that later clients get 'connection refused'.

        Idempotent, so a test may stop the server to simulate an outage before the fixture does.
        """
        for server in (self._api, self._cdn):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def client_env(self, hf_home: Path, token: str | None = None, **extra: str) -> dict[str, str]:
        """Environment for a client subprocess: this endpoint, an empty cache, no Xet, no proxy."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
        env.update(
            HF_ENDPOINT=self.url,
            HF_HOME=str(hf_home),
            HF_HUB_CACHE=str(hf_home / "hub"),
            HF_HUB_DISABLE_XET="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_DISABLE_UPDATE_CHECK="1",
            HF_HUB_DISABLE_PROGRESS_BARS="1",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        if token is not None:
            env["HF_TOKEN"] = token
        env.update(extra)
        return env

    # --- repository operations, called by the handlers with the lock held ---

    def repo_key(self, repo_type: str, repo_id: str) -> str:
        return REPO_TYPE_PREFIXES[repo_type] + repo_id

    def create_repo(self, repo_type: str, repo_id: str, visibility: str) -> Repo:
        gitattributes = self.store.put_blob(DEFAULT_GITATTRIBUTES.encode())
        repo = Repo(repo_id, repo_type, visibility, self.store, datetime.now(timezone.utc))
        entry = RepoEntry(".gitattributes", len(DEFAULT_GITATTRIBUTES), gitattributes)
        self.add_commit(repo, "main", "initial commit", "", {".gitattributes": entry})
        self.repos[self.repo_key(repo_type, repo_id)] = repo
        return repo

    def add_commit(
        self, repo: Repo, branch: str, title: str, description: str, entries: Mapping[str, RepoEntry]
    ) -> Commit:
        parent = repo.branches.get(branch)
        date = datetime.now(timezone.utc)
        seed = json.dumps(
            [parent, title, description, date.isoformat(), sorted((p, e.blob_id) for p, e in entries.items())]
        )
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), title, description, parent, dict(entries), date)
        repo.commits.append(commit)
        repo.branches[branch] = commit.oid
        return commit

    def lfs_href(self, sha256: str) -> str:
        return f"{self.cdn_url}/lfs/{sha256}?X-Amz-Signature={self.sign(sha256)}"

    def sign(self, sha256: str) -> str:
        return hmac.new(self._secret, sha256.encode(), "sha256").hexdigest()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], hub: HubServer) -> None:
        super().__init__(address, handler)
        self.hub = hub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects from the Hub
    timeout = 10  # idle keep-alive connections must not pin threads after stop()
    server: _Server

    @property
    def hub(self) -> HubServer:
        return self.server.hub

    def log_message(self, format: str, *args: Any) -> None:
        """Tests read `HubServer.requests` instead of server noise on stderr."""

    def read_body(self) -> bytes:
        """Reads the whole body (also when we reject the request) so keep-alive stays in sync."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/octet-stream")
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        self.send(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    def send_error_json(self, status: int, message: str, code: str | None = None, **headers: str) -> None:
        """Errors as the Hub sends them: JSON body plus X-Error-Message (and X-Error-Code)."""
        extra = {"X-Error-Message": message, **headers}
        if code is not None:
            extra["X-Error-Code"] = code
        self.send_json(status, {"error": message}, extra)

    def send_content(self, data: bytes, headers: Mapping[str, str]) -> None:
        """Serves `data`, honouring the `Range: bytes=N-[M]` that huggingface_hub uses to resume."""
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match is None:
            self.send(200, data, {"Accept-Ranges": "bytes", **headers})
            return
        start, end = int(match[1]), int(match[2]) if match[2] else len(data) - 1
        if start >= len(data):
            self.send(416, b"", {"Content-Range": f"bytes */{len(data)}", **headers})
            return
        part = data[start : end + 1]
        content_range = f"bytes {start}-{start + len(part) - 1}/{len(data)}"
        self.send(206, part, {"Accept-Ranges": "bytes", "Content-Range": content_range, **headers})

    def query_value(self, name: str) -> str:
        return parse_qs(urlsplit(self.path).query).get(name, [""])[0]

    def query_flag(self, name: str) -> bool:
        """httpx sends booleans as "true"/"false"."""
        return self.query_value(name).lower() in ("1", "true")

    def path_parts(self) -> list[str]:
        """Splits before unquoting: a quoted revision such as refs%2Fpr%2F1 is one segment."""
        return [unquote(p) for p in urlsplit(self.path).path.split("/")[1:]]


class HubHandler(_Handler):
    def do_GET(self) -> None:
        self.dispatch()

    def do_HEAD(self) -> None:
        self.dispatch()

    def do_POST(self) -> None:
        self.dispatch()

    def dispatch(self) -> None:
        body = self.read_body()
        self.hub.requests.append(f"{self.command} {self.path}")
        valid, identity = self.authenticate()
        if not valid:
            return
        with self.hub.lock:
            handled = self.route(self.path_parts(), body, identity)
        if not handled:
            self.hub.unhandled.append(f"{self.command} {self.path}")
            self.send_error_json(404, f"hub_server does not implement {self.command} {urlsplit(self.path).path}")

    def authenticate(self) -> tuple[bool, Identity | None]:
        """Any request with an unknown token gets a 401, even on public resources, as on the Hub."""
        auth = self.headers.get("Authorization")
        if auth is None:
            return True, None
        token = auth.removeprefix("Bearer ").strip()
        identity = self.hub.identities.get(token)
        if identity is None:
            self.send_error_json(401, "Invalid credentials in Authorization header")
            return False, None
        return True, identity

    def route(self, parts: list[str], body: bytes, who: Identity | None) -> bool:
        method = self.command
        if parts == ["api", "whoami-v2"] and method == "GET":
            self.whoami(who)
        elif parts == ["api", "repos", "create"] and method == "POST":
            self.create_repo(json.loads(body or b"{}"), who)
        elif parts == ["api", "validate-yaml"] and method == "POST":
            self.validate_yaml(json.loads(body or b"{}"))
        elif len(parts) >= 4 and parts[0] == "api" and parts[1] in API_REPO_TYPES:
            return self.route_repo_api(API_REPO_TYPES[parts[1]], f"{parts[2]}/{parts[3]}", parts[4:], body, who)
        elif (lfs := self.match_lfs(parts)) is not None and method == "POST":
            repo_type, repo_id, action = lfs
            if action == "batch":
                self.lfs_batch(repo_type, repo_id, json.loads(body or b"{}"), who)
            else:
                self.lfs_verify(repo_type, repo_id, json.loads(body or b"{}"), who)
        elif (resolve := self.match_resolve(parts)) is not None and method in ("GET", "HEAD"):
            self.resolve(*resolve, who)
        else:
            return False
        return True

    def route_repo_api(self, repo_type: str, repo_id: str, rest: list[str], body: bytes, who: Identity | None) -> bool:
        method = self.command
        if not rest and method == "GET":
            self.repo_info(repo_type, repo_id, "main", who)
        elif len(rest) == 2 and rest[0] == "revision" and method == "GET":
            self.repo_info(repo_type, repo_id, rest[1], who)
        elif len(rest) >= 2 and rest[0] == "tree" and method == "GET":
            self.tree(repo_type, repo_id, rest[1], "/".join(rest[2:]), who)
        elif len(rest) == 2 and rest[0] == "preupload" and method == "POST":
            self.preupload(repo_type, repo_id, rest[1], json.loads(body or b"{}"), who)
        elif len(rest) == 2 and rest[0] == "commit" and method == "POST":
            self.commit(repo_type, repo_id, rest[1], body, who)
        else:
            return False
        return True

    @staticmethod
    def match_lfs(parts: list[str]) -> tuple[str, str, str] | None:
        """`/{prefix}{ns}/{name}.git/info/lfs/objects/{batch|verify}`."""
        repo_type = "model"
        if parts and parts[0] in ("datasets", "spaces"):
            repo_type, parts = API_REPO_TYPES[parts[0]], parts[1:]
        if len(parts) == 6 and parts[1].endswith(".git") and parts[2:5] == ["info", "lfs", "objects"]:
            if parts[5] in ("batch", "verify"):
                return repo_type, f"{parts[0]}/{parts[1].removesuffix('.git')}", parts[5]
        return None

    @staticmethod
    def match_resolve(parts: list[str]) -> tuple[str, str, str, str] | None:
        """`/{prefix}{ns}/{name}/resolve/{revision}/{path}`."""
        repo_type = "model"
        if parts and parts[0] in ("datasets", "spaces"):
            repo_type, parts = API_REPO_TYPES[parts[0]], parts[1:]
        if len(parts) >= 5 and parts[2] == "resolve":
            return repo_type, f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:])
        return None

    # --- endpoints ---

    def whoami(self, who: Identity | None) -> None:
        if who is None:
            self.send_error_json(401, "Invalid username or password.")
            return
        self.send_json(
            200,
            {
                "type": "user",
                "id": hashlib.sha1(who.name.encode()).hexdigest()[:24],
                "name": who.name,
                "fullname": "Test User",
                "email": f"{who.name}@example.invalid",
                "emailVerified": True,
                "isPro": False,
                "orgs": [{"type": "org", "name": org, "roleInOrg": "admin"} for org in who.orgs],
                "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": who.role}},
            },
        )

    def create_repo(self, payload: dict[str, Any], who: Identity | None) -> None:
        if who is None:
            self.send_error_json(401, "You must be logged in to create a repository")
            return
        repo_type = payload.get("type") or "model"
        namespace = payload.get("organization") or who.name
        repo_id = f"{namespace}/{payload.get('name')}"
        visibility = payload.get("visibility", "public")
        if repo_type not in REPO_TYPE_PREFIXES or visibility not in ("public", "private"):
            self.send_error_json(400, f"Invalid repo type or visibility: {repo_type!r}, {visibility!r}")
            return
        if not who.may_write(namespace):
            self.send_error_json(
                403, f'You don\'t have the rights to create a {repo_type} under the namespace "{namespace}"'
            )
            return
        url = f"{self.hub.url}/{REPO_TYPE_PREFIXES[repo_type]}{repo_id}"
        if self.hub.repo_key(repo_type, repo_id) in self.hub.repos:
            self.send_json(409, {"error": f"You already created this {repo_type} repo", "url": url})
            return
        self.hub.create_repo(repo_type, repo_id, visibility)
        self.send_json(200, {"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]})

    def validate_yaml(self, payload: dict[str, Any]) -> None:
        errors, warnings = validate_card_metadata(payload.get("content", ""))
        status = 400 if errors else 200
        self.send_json(
            status, {"errors": [{"message": m} for m in errors], "warnings": [{"message": m} for m in warnings]}
        )

    def readable_repo(self, repo_type: str, repo_id: str, who: Identity | None) -> Repo | None:
        """The repo, or None after answering as the Hub does for missing and hidden private repos."""
        repo = self.hub.repos.get(self.hub.repo_key(repo_type, repo_id))
        if repo is None or (repo.private and (who is None or not who.may_read(repo.namespace))):
            status = 401 if who is None else 404
            self.send_error_json(status, "Repository not found", code="RepoNotFound")
            return None
        return repo

    def writable_repo(self, repo_type: str, repo_id: str, who: Identity | None) -> Repo | None:
        repo = self.readable_repo(repo_type, repo_id, who)
        if repo is None:
            return None
        if who is None or not who.may_write(repo.namespace):
            reason = "this token is read-only" if who is not None and who.role == "read" else "not your namespace"
            self.send_error_json(403, f"You don't have the rights to write to {repo_id}: {reason}")
            return None
        return repo

    def at_revision(self, repo: Repo | None, revision: str) -> tuple[Repo, Commit] | None:
        """The repo and its commit at `revision`, or None once the error has been answered."""
        if repo is None:
            return None
        commit = repo.commit(revision)
        if commit is None:
            self.send_error_json(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
            return None
        return repo, commit

    def repo_info(self, repo_type: str, repo_id: str, revision: str, who: Identity | None) -> None:
        found = self.at_revision(self.readable_repo(repo_type, repo_id, who), revision)
        if found is None:
            return
        repo, commit = found
        card = readme_metadata(repo, commit)
        blobs = self.query_flag("blobs")
        siblings = []
        for entry in sorted(commit.entries.values(), key=lambda e: e.path):
            sibling: dict[str, Any] = {"rfilename": entry.path}
            if blobs:
                sibling.update(size=entry.size, blobId=entry.blob_id)
                if entry.lfs_sha256 is not None:
                    sibling["lfs"] = {"size": entry.size, "sha256": entry.lfs_sha256, "pointerSize": entry.pointer_size}
            siblings.append(sibling)
        self.send_json(
            200,
            {
                "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
                "id": repo.repo_id,
                "modelId": repo.repo_id,
                "author": repo.namespace,
                "sha": commit.oid,
                "lastModified": commit.date.isoformat().replace("+00:00", "Z"),
                "createdAt": repo.created_at.isoformat().replace("+00:00", "Z"),
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": list(card.get("tags") or []),
                "pipeline_tag": card.get("pipeline_tag"),
                "library_name": card.get("library_name"),
                "cardData": card or None,
                "siblings": siblings,
            },
        )

    def tree(self, repo_type: str, repo_id: str, revision: str, path: str, who: Identity | None) -> None:
        found = self.at_revision(self.readable_repo(repo_type, repo_id, who), revision)
        if found is None:
            return
        repo, commit = found
        recursive = self.query_flag("recursive")
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        items: dict[str, dict[str, Any]] = {}
        for entry in commit.entries.values():
            if not entry.path.startswith(prefix):
                continue
            rel_parts = entry.path[len(prefix) :].split("/")
            for depth in range(1, len(rel_parts)):
                folder = prefix + "/".join(rel_parts[:depth])
                if recursive or depth == 1:
                    items[folder] = {
                        "type": "directory",
                        "oid": hashlib.sha1(folder.encode()).hexdigest(),
                        "size": 0,
                        "path": folder,
                    }
            if recursive or len(rel_parts) == 1:
                items[entry.path] = tree_item(entry)
        if prefix and not items:
            self.send_error_json(404, f'{path} does not exist on "{revision}"', code="EntryNotFound")
            return
        self.send_json(200, [items[k] for k in sorted(items)])

    def preupload(
        self, repo_type: str, repo_id: str, revision: str, payload: dict[str, Any], who: Identity | None
    ) -> None:
        found = self.at_revision(self.writable_repo(repo_type, repo_id, who), revision)
        if found is None:
            return
        repo, commit = found
        gitattributes = commit.entries.get(".gitattributes")
        patterns = lfs_patterns(repo.store.read(gitattributes).decode()) if gitattributes else []
        files = []
        for item in payload.get("files", []):
            sample = base64.b64decode(item.get("sample", ""))
            lfs = item["size"] > REGULAR_FILE_MAX_SIZE or b"\0" in sample or matches_any(item["path"], patterns)
            info: dict[str, Any] = {
                "path": item["path"],
                "uploadMode": "lfs" if lfs else "regular",
                "shouldIgnore": False,
            }
            existing = commit.entries.get(item["path"])
            if existing is not None:
                info["oid"] = existing.lfs_sha256 or existing.blob_id
            files.append(info)
        self.send_json(200, {"files": files, "commitOid": commit.oid})

    def commit(self, repo_type: str, repo_id: str, revision: str, body: bytes, who: Identity | None) -> None:
        found = self.at_revision(self.writable_repo(repo_type, repo_id, who), revision)
        if found is None:
            return
        repo, head = found
        if revision not in repo.branches:
            self.send_error_json(400, f"Cannot commit to {revision}: not a branch")
            return
        try:
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        except ValueError as err:
            self.send_error_json(400, f"Invalid NDJSON payload: {err}")
            return
        if not lines or lines[0].get("key") != "header" or not lines[0]["value"].get("summary"):
            self.send_error_json(400, "The first line of the commit payload must be a header with a summary")
            return
        header = lines[0]["value"]
        if header.get("parentCommit") not in (None, head.oid):
            self.send_error_json(412, "A commit has happened since. Please refresh and try again.")
            return
        entries = dict(head.entries)
        for line in lines[1:]:
            error = self.apply_operation(repo, entries, line.get("key"), line.get("value") or {})
            if error is not None:
                self.send_error_json(*error)
                return
        commit = self.hub.add_commit(repo, revision, header["summary"], header.get("description", ""), entries)
        url = f"{self.hub.url}/{REPO_TYPE_PREFIXES[repo_type]}{repo_id}/commit/{commit.oid}"
        self.send_json(200, {"success": True, "commitOid": commit.oid, "commitUrl": url, "hookOutput": ""})

    def apply_operation(
        self, repo: Repo, entries: dict[str, RepoEntry], key: str | None, value: dict[str, Any]
    ) -> tuple[int, str] | None:
        """Applies one NDJSON commit line to `entries`; returns (status, message) when rejected."""
        path = str(value.get("path", ""))
        if not path or path.startswith("/") or ".." in path.split("/") or path.split("/")[0] in (".git", ".cache"):
            return 400, f"Invalid path in commit: {path!r}"
        if key == "file":
            data = base64.b64decode(value.get("content", ""))
            if b"\0" in data or len(data) > REGULAR_FILE_MAX_SIZE:
                return 400, f"Your push was rejected because {path} is a binary or large file: upload it with Git LFS"
            entries[path] = RepoEntry(path, len(data), repo.store.put_blob(data))
        elif key == "lfsFile":
            sha256 = str(value.get("oid", ""))
            if value.get("algo") != "sha256" or not repo.store.has_lfs(sha256, value.get("size")):
                return 422, f"Your push was rejected because the LFS object of {path} ({sha256}) was not uploaded"
            size = repo.store.lfs_path(sha256).stat().st_size
            pointer = lfs_pointer(sha256, size)
            entries[path] = RepoEntry(path, size, repo.store.put_blob(pointer), sha256, len(pointer))
        elif key == "deletedFile":
            if entries.pop(path, None) is None:
                return 404, f"A file with this name doesn't exist: {path}"
        elif key == "deletedFolder":
            for name in [p for p in entries if p.startswith(path.rstrip("/") + "/")]:
                del entries[name]
        else:
            return 400, f"Unsupported commit operation {key!r}"
        return None

    def lfs_batch(self, repo_type: str, repo_id: str, payload: dict[str, Any], who: Identity | None) -> None:
        repo = self.writable_repo(repo_type, repo_id, who)
        if repo is None:
            return
        if payload.get("operation") != "upload":
            self.send_error_json(422, "hub_server only implements the LFS upload operation")
            return
        verify = f"{self.hub.url}/{REPO_TYPE_PREFIXES[repo_type]}{repo_id}.git/info/lfs/objects/verify"
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj.get("oid"), obj.get("size")
            if not isinstance(oid, str) or not SHA256_RE.match(oid) or not isinstance(size, int):
                objects.append(
                    {"oid": str(oid), "size": int(size or 0), "error": {"code": 422, "message": "Invalid oid or size"}}
                )
            elif repo.store.has_lfs(oid, size):
                objects.append({"oid": oid, "size": size})
            else:
                actions = {
                    "upload": {"href": self.hub.lfs_href(oid), "header": {}},
                    "verify": {"href": verify, "header": {}},
                }
                objects.append({"oid": oid, "size": size, "authenticated": True, "actions": actions})
        self.send_json(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_verify(self, repo_type: str, repo_id: str, payload: dict[str, Any], who: Identity | None) -> None:
        if self.writable_repo(repo_type, repo_id, who) is None:
            return
        if not self.hub.store.has_lfs(str(payload.get("oid")), payload.get("size")):
            self.send_error_json(404, f"LFS object {payload.get('oid')} of size {payload.get('size')} was not uploaded")
            return
        self.send_json(200, {"success": True})

    def resolve(self, repo_type: str, repo_id: str, revision: str, path: str, who: Identity | None) -> None:
        found = self.at_revision(self.readable_repo(repo_type, repo_id, who), revision)
        if found is None:
            return
        repo, commit = found
        entry = commit.entries.get(path)
        if entry is None:
            self.send_error_json(404, "Entry not found", code="EntryNotFound", **{"X-Repo-Commit": commit.oid})
            return
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{entry.blob_id}"'}
        if entry.lfs_sha256 is None:
            self.send_content(repo.store.blob(entry.blob_id), headers)
            return
        location = self.hub.lfs_href(entry.lfs_sha256)
        headers.update(
            {
                "Location": location,
                "X-Linked-Etag": f'"{entry.lfs_sha256}"',
                "X-Linked-Size": str(entry.size),
                "Content-Type": "text/plain; charset=utf-8",
            }
        )
        self.send(302, f"Found. Redirecting to {location}".encode(), headers)


class CdnHandler(_Handler):
    """The object store behind LFS: signed URLs only, and (like S3) no Hub token accepted."""

    def do_GET(self) -> None:
        self.serve()

    def do_HEAD(self) -> None:
        self.serve()

    def do_PUT(self) -> None:
        self.serve()

    def serve(self) -> None:
        body = self.read_body()
        self.hub.requests.append(f"CDN {self.command} {self.path}")
        parts = self.path_parts()
        if len(parts) != 2 or parts[0] != "lfs" or not SHA256_RE.match(parts[1]):
            self.send_error_json(404, "NoSuchKey")
            return
        sha256 = parts[1]
        if "Authorization" in self.headers:
            self.hub.cdn_requests_with_auth.append(f"{self.command} {self.path}")
            self.send_error_json(400, "Only one auth mechanism allowed; the signed URL already authenticates")
            return
        if not hmac.compare_digest(self.query_value("X-Amz-Signature"), self.hub.sign(sha256)):
            self.send_error_json(403, "SignatureDoesNotMatch")
            return
        if self.command == "PUT":
            if hashlib.sha256(body).hexdigest() != sha256:
                self.send_error_json(400, "BadDigest: the uploaded content does not match its sha256")
                return
            self.hub.store.put_lfs(sha256, body)
            self.send(200, b"", {"ETag": f'"{hashlib.md5(body).hexdigest()}"'})
        elif self.hub.store.has_lfs(sha256):
            data = self.hub.store.lfs_path(sha256).read_bytes()
            self.send_content(data, {"ETag": f'"{sha256}"', "Content-Disposition": f'attachment; filename="{sha256}"'})
        else:
            self.send_error_json(404, "NoSuchKey")


def tree_item(entry: RepoEntry) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "file", "oid": entry.blob_id, "size": entry.size, "path": entry.path}
    if entry.lfs_sha256 is not None:
        item["lfs"] = {"oid": entry.lfs_sha256, "size": entry.size, "pointerSize": entry.pointer_size}
    return item


def lfs_patterns(gitattributes: str) -> list[str]:
    return [line.split()[0] for line in gitattributes.splitlines() if "filter=lfs" in line.split()[1:]]


def matches_any(path: str, patterns: list[str]) -> bool:
    """gitattributes semantics for the patterns used here: no slash -> match the basename."""
    return any(fnmatch.fnmatch(path if "/" in p else path.rsplit("/", 1)[-1], p) for p in patterns)


def card_metadata(content: str) -> dict[str, Any]:
    """The YAML front matter of a README.md; {} when absent. Raises yaml.YAMLError when invalid."""
    match = re.match(r"^\s*---\s*\n(.*?)\n---\s*(\n|$)", content, re.DOTALL)
    if match is None:
        return {}
    data = yaml.safe_load(match[1])
    return data if isinstance(data, dict) else {}


def readme_metadata(repo: Repo, commit: Commit) -> dict[str, Any]:
    """cardData for repo info; an unparsable card is no metadata, as on the Hub."""
    readme = commit.entries.get("README.md")
    try:
        return card_metadata(repo.store.read(readme).decode()) if readme else {}
    except yaml.YAMLError:
        return {}


def validate_card_metadata(content: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) for a model card, checking the fields the Hub rejects when malformed."""
    try:
        data = card_metadata(content)
    except yaml.YAMLError as err:
        return [f"Invalid YAML in README.md metadata: {err}"], []
    if not data:
        return [], ["Empty or missing yaml metadata in repo card"]
    errors = []
    for key in ("language", "tags", "datasets", "base_model"):
        value = data.get(key)
        if value is not None and not (
            isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            errors.append(f'"{key}" must be a string or an array of strings')
    if "license" in data and not isinstance(data["license"], str):
        errors.append('"license" must be a string')
    for index in data.get("model-index") or []:
        results = index.get("results") if isinstance(index, dict) else None
        if not isinstance(index, dict) or not isinstance(index.get("name"), str) or not isinstance(results, list):
            errors.append('"model-index" entries need a "name" and a list of "results"')
            continue
        for result in results:
            task, metrics = result.get("task"), result.get("metrics")
            if not isinstance(task, dict) or "type" not in task or not isinstance(metrics, list):
                errors.append('"model-index" results need a "task" with a "type" and a list of "metrics"')
            elif any(not isinstance(m, dict) or "type" not in m or "value" not in m for m in metrics):
                errors.append('"model-index" metrics need a "type" and a "value"')
    return errors, []


@contextmanager
def running_hub_server(root: Path) -> Iterator[HubServer]:
    """A started server storing under `root`; for module-scoped fixtures built on tmp_path_factory."""
    server = HubServer(root).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(name="hub_server")
def hub_server_fixture(tmp_path: Path) -> Iterator[HubServer]:
    """A fresh local Hub per test: `.url`, `.token` (write), `.read_token`, `.repos`, `.client_env()`."""
    with running_hub_server(tmp_path / "hub-server") as server:
        yield server
