"""Train, push with --push_to_hub, and load the model back from the Hub in a fresh process.

The Hub is tests/hub_server.py on 127.0.0.1; training and the download run as separate processes
with empty Hugging Face caches, as on a user's machine and on the machine of someone who uses
the published model.
"""

import json
from pathlib import Path

import pytest

from conftest import NSMC_MINI, REPO, TINY_MODEL, require
from conftest_hub import REVIEWS, run_python
from hub_server import HubServer, running_hub_server

REPO_ID = "test-user/nsmc-roundtrip"
PREDICT_CODE = """
import json, sys
from transformers import AutoModelForSequenceClassification, pipeline
model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1])
classifier = pipeline("text-classification", model=sys.argv[1], device="cpu")
print(json.dumps({"id2label": model.config.id2label, "predictions": classifier(json.loads(sys.argv[2]))}))
"""


def train_args(output_dir: Path, *extra: str) -> list[str]:
    return [
        str(REPO / "run_nsmc.py"),
        "--model_name_or_path", str(require(TINY_MODEL)),
        "--data_dir", str(require(NSMC_MINI)),
        "--output_dir", str(output_dir),
        "--features_cache_dir", str(output_dir.parent / "features"),
        "--max_train_samples", "256",
        "--max_eval_samples", "64",
        "--num_train_epochs", "1",
        "--learning_rate", "1e-3",
        "--report_to", "none",
        "--disable_tqdm", "true",
        *extra,
    ]  # fmt: skip


def predictions(model: str, env: dict[str, str]) -> dict:
    result = run_python(["-c", PREDICT_CODE, model, json.dumps(REVIEWS)], env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> HubServer:
    with running_hub_server(tmp_path_factory.mktemp("hub")) as server:
        yield server


@pytest.fixture(scope="module")
def trained(hub, tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("publish")
    output_dir = root / "out"
    env = hub.client_env(root / "hf-train")
    result = run_python(
        train_args(output_dir, "--push_to_hub", "--hub_model_id", REPO_ID, "--hub_token", hub.token), env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return output_dir, result.stdout + result.stderr


def test_pulled_model_predicts_like_the_local_output_dir(hub, trained, tmp_path):
    output_dir, _ = trained
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= hub.repos[REPO_ID].files.keys()
    local = predictions(str(output_dir), hub.client_env(tmp_path / "hf-local"))
    pulled = predictions(REPO_ID, hub.client_env(tmp_path / "hf-empty-cache"))
    assert pulled["id2label"] == {"0": "negative", "1": "positive"}
    assert [p["label"] for p in pulled["predictions"]] == [p["label"] for p in local["predictions"]]
    assert [p["score"] for p in pulled["predictions"]] == pytest.approx([p["score"] for p in local["predictions"]])


def test_the_token_is_nowhere_in_logs_card_or_saved_arguments(hub, trained):
    output_dir, log = trained
    token = hub.token.encode()
    assert token not in log.encode()
    for path in output_dir.rglob("*"):
        if path.is_file():
            assert token not in path.read_bytes(), path
    for content in hub.repos[REPO_ID].files.values():
        assert token not in content


def test_the_card_is_written_into_the_output_dir_and_pushed(hub, trained):
    output_dir, _ = trained
    card = (output_dir / "README.md").read_bytes()
    assert hub.repos[REPO_ID].files["README.md"] == card
    assert b"pipeline_tag: text-classification" in card and REPO_ID.encode() in card


def test_private_flag_reaches_the_hub(hub, tmp_path):
    repo_id = "test-user/nsmc-private"
    args = train_args(tmp_path / "out", "--push_to_hub", "--hub_model_id", repo_id, "--hub_private_repo", "true")
    result = run_python(args, hub.client_env(tmp_path / "hf", token=hub.token))
    assert result.returncode == 0, result.stderr[-3000:]
    assert hub.repos[repo_id].visibility == "private"


def test_a_wrong_token_stops_before_training_with_a_clear_message(hub, tmp_path):
    output_dir = tmp_path / "out"
    args = train_args(output_dir, "--push_to_hub", "--hub_model_id", "test-user/never")
    result = run_python(args, hub.client_env(tmp_path / "hf", token="hf_wrong"))
    assert result.returncode == 1
    assert "rejected the token" in result.stderr and "Traceback" not in result.stderr
    assert "test-user/never" not in hub.repos
    assert not (output_dir / "model.safetensors").exists()
