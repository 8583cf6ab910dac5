"""Pushing a trained model to the Hugging Face Hub: the upload, the token check before training,
and failures explained (`PushError`) without touching the output directory."""

import fnmatch
import functools
import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, get_session, get_token
from huggingface_hub.errors import HfHubHTTPError

from .curves import CURVES_FILE
from .evaluation import CONFUSION_MATRIX_FILE
from .history import TRAINER_STATE_NAME


@functools.cache
def http_transport_error() -> type[Exception]:
    """The TransportError of the HTTP library huggingface_hub really uses (httpx in 1.x, httpx2 in
    2.x): network failures surface as it. Looked up when a push needs it, not at every command's start."""
    library = importlib.import_module(type(get_session()).__module__.split(".")[0])
    return library.TransportError

# Only what is needed to use and judge the model. training_args.bin is left out on purpose: it is
# a pickle of TrainingArguments, which holds --hub_token in clear text; checkpoint-*/ and runs/ are
# training by-products that would multiply the upload size.
UPLOAD_PATTERNS = (
    "*.safetensors",
    "*.safetensors.index.json",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "chat_template.jinja",
    "README.md",
    "*results.json",
    TRAINER_STATE_NAME,
    CURVES_FILE,
    CONFUSION_MATRIX_FILE,
)


class PushError(RuntimeError):
    """The push failed; the model in the output directory is intact and can be pushed again."""


def files_to_upload(output_dir: str | Path) -> list[Path]:
    """The top-level files of the output directory that belong in the model repo."""
    return sorted(
        p
        for p in Path(output_dir).iterdir()
        if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in UPLOAD_PATTERNS)
    )


def _contains(path: Path, needle: bytes, chunk_size: int = 1 << 22) -> bool:
    """Streams the file, since weights can be gigabytes; the tail carried over catches a split needle."""
    tail = b""
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) :]
    return False


def _check_no_token(files: Sequence[Path], token: str) -> None:
    """Refuses before anything leaves the machine: a token in a public repo is a leaked token."""
    for path in files:
        if _contains(path, token.encode()):
            raise PushError(f"Refusing to push: {path} contains the Hugging Face token. Remove it and push again.")


def _retry_hint(output_dir: Path, hub_model_id: str) -> str:
    return (
        f"The model is saved in {output_dir}; push it later with:\n"
        f"  nsmc-push {output_dir} --hub_model_id {hub_model_id}"
    )


def _explain(err: BaseException, endpoint: str, repo_id: str) -> str:
    """A message that names the cause; huggingface_hub wraps transport errors of LFS uploads."""
    cause: BaseException | None = err
    transport_error = http_transport_error()
    while cause is not None and not isinstance(cause, (transport_error, HfHubHTTPError)):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, transport_error):
        return f"Could not reach the Hugging Face Hub at {endpoint} ({type(cause).__name__}: {cause})."
    if isinstance(cause, HfHubHTTPError):
        status = cause.response.status_code
        detail = cause.server_message or str(cause).strip().splitlines()[0]
        if status == 401:
            return (
                f"The Hub at {endpoint} rejected the token (401 Unauthorized: {detail}). "
                "Pass a valid write token with --token, set HF_TOKEN, or run `hf auth login`."
            )
        if status == 403:
            return (
                f"The Hub at {endpoint} refused the push to {repo_id} (403 Forbidden: {detail}). "
                f"The token needs write access to the '{repo_id.split('/')[0]}' namespace."
            )
        return f"The Hub at {endpoint} rejected the push to {repo_id} (HTTP {status}: {detail})."
    return f"The push to {repo_id} at {endpoint} failed: {err}"


@contextmanager
def _failures_explained(endpoint: str, output_dir: Path, hub_model_id: str) -> Iterator[None]:
    """Turns what huggingface_hub raises into a PushError that says what to do next."""
    try:
        yield
    except PushError:
        raise
    except (http_transport_error(), HfHubHTTPError, ValueError, RuntimeError) as err:
        message = _explain(err, endpoint, hub_model_id) + "\n" + _retry_hint(output_dir, hub_model_id)
        raise PushError(message) from err


def push_output_dir(
    output_dir: str | Path,
    hub_model_id: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload NSMC sentiment classifier",
) -> str:
    """Creates the repo if needed, uploads the model files of `output_dir`, returns the repo URL.

    A new repo is private only with `private=True`. An existing repo keeps its visibility, so a
    private push into an existing public repo is refused rather than silently published.
    """
    output_dir = Path(output_dir)
    files = files_to_upload(output_dir)
    if not any(p.suffix == ".safetensors" for p in files):
        raise PushError(f"No model weights (*.safetensors) in {output_dir}: nothing to push.")
    token = token or get_token()
    if token is None:
        raise PushError(
            "No Hugging Face token: pass --token, set HF_TOKEN, or run `hf auth login`.\n"
            + _retry_hint(output_dir, hub_model_id)
        )
    _check_no_token(files, token)
    api = HfApi(token=token)
    with _failures_explained(api.endpoint, output_dir, hub_model_id):
        repo_url = api.create_repo(hub_model_id, private=private, exist_ok=True)
        if private and not api.repo_info(repo_url.repo_id).private:
            raise PushError(
                f"{repo_url.repo_id} already exists on {api.endpoint} and is public, but a private push was asked "
                "for: make the repo private on the Hub first, or push without --private."
            )
        api.upload_folder(
            repo_id=repo_url.repo_id,
            folder_path=output_dir,
            allow_patterns=[p.name for p in files],
            commit_message=commit_message,
        )
    return str(repo_url)


@dataclass
class PushRequest:
    """What `--push_to_hub` asked for, held outside the training arguments."""

    hub_model_id: str
    token: str | None
    private: bool | None


def take_push_request(training_args: Any) -> PushRequest | None:
    """Take the push out of Trainer's hands and the token out of the training arguments.

    Trainer would create the repo at start and upload every checkpoint with training_args.bin,
    a pickle of these arguments, token included. Instead the best model is pushed once, at the
    end, by `push_output_dir` (the code `nsmc-push` retries with), and the token lives only here.
    """
    request = None
    if training_args.push_to_hub:
        request = PushRequest(
            hub_model_id=training_args.hub_model_id or Path(training_args.output_dir).resolve().name,
            token=training_args.hub_token or get_token(),
            private=training_args.hub_private_repo,
        )
    training_args.push_to_hub = False
    training_args.hub_token = None
    return request


def check_push_access(request: PushRequest) -> None:
    """Fail before hours of training, not after, when the token is missing or refused."""
    if request.token is None:
        raise PushError(
            "--push_to_hub needs a Hugging Face token: pass --hub_token, set HF_TOKEN, or run `hf auth login`."
        )
    api = HfApi(token=request.token)
    try:
        api.whoami()
    except (http_transport_error(), HfHubHTTPError) as err:
        raise PushError(
            _explain(err, api.endpoint, request.hub_model_id)
            + "\nFix this, or train without --push_to_hub and push afterwards with nsmc-push."
        ) from err
