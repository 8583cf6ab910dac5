"""Helpers for the Hub and prediction tests: training output directories, and fresh Python processes.

Clients of the local Hub run in subprocesses because huggingface_hub reads HF_ENDPOINT once, at
import. Test modules import the fixtures they use::

    from conftest_hub import output_dir_fixture  # noqa: F401  (provides the fixture "output_dir")
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, TINY_MODEL, require
from hub_server import HubServer

ID2LABEL = {0: "negative", 1: "positive"}
EVAL_RESULTS = {"epoch": 3.0, "eval_accuracy": 0.8123, "eval_f1": 0.8098, "eval_loss": 0.4231, "eval_samples": 500}
REVIEWS = [
    "아 더빙.. 진짜 짜증나네요 목소리",
    "흠...포스터보고 초딩영화줄....오버연기조차 가볍지 않구나",
    "너무재밓었다그래서보는것을추천한다",
    "사이몬페그의 익살스런 연기가 돋보였던 영화!스파이더맨에서 늙어보이기만 했던 커스틴 던스트가 너무나도 이뻐보였다",
    "좋아요",
]


def make_output_dir(path: Path) -> Path:
    """What training leaves in --output_dir, with the tiny random BERT standing in for kcbert."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(
        require(TINY_MODEL), num_labels=2, id2label=ID2LABEL, label2id={v: k for k, v in ID2LABEL.items()}
    )
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(TINY_MODEL).save_pretrained(path)
    for name in ("all_results.json", "eval_results.json"):
        (path / name).write_text(json.dumps(EVAL_RESULTS))
    (path / "train_results.json").write_text(json.dumps({"epoch": 3.0, "train_loss": 0.45}))
    (path / "trainer_state.json").write_text(json.dumps({"epoch": 3.0, "log_history": [], "train_batch_size": 32}))
    return path


@pytest.fixture(scope="session", name="output_dir")
def output_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared, read-only training output directory; copy it before changing anything."""
    return make_output_dir(tmp_path_factory.mktemp("output") / "nsmc-tiny")


def run_python(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """`python ARGS` in a fresh interpreter, from the repository root."""
    return subprocess.run(
        [sys.executable, *args], env=env, input=stdin, capture_output=True, text=True, cwd=REPO, timeout=180
    )


PUSH_CODE = """
import json, sys
from nsmc_trainer.hub import PushError, push_output_dir
try:
    print(json.dumps({"url": push_output_dir(**json.loads(sys.argv[1]))}))
except PushError as err:
    print(json.dumps({"error": str(err)}))
"""


def push(server: HubServer, hf_home: Path, directory: Path, repo_id: str, **kwargs: object) -> dict[str, str]:
    """push_output_dir in a client process of `server`: {"url": ...} or {"error": PushError text}."""
    arguments = json.dumps({"output_dir": str(directory), "hub_model_id": repo_id, **kwargs})
    result = run_python(["-c", PUSH_CODE, arguments], server.client_env(hf_home))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
