"""Model card and push to the Hub, against the local Hub of tests/hub_server.py.

Clients run in fresh processes with HF_ENDPOINT pointing at the server and an empty HF cache, as
a user's `nsmc-push` and a downloader's `from_pretrained("user/repo")` would.
"""

import hashlib
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from transformers import pipeline

from conftest import TINY_MODEL
from conftest_hub import EVAL_RESULTS, REVIEWS, push, run_python
from hub_server import HubServer, running_hub_server, validate_card_metadata
from nsmc_trainer.config import NsmcTrainingArguments
from nsmc_trainer.hub import PushError, push_output_dir
from nsmc_trainer.model_card import hyperparameters_from_args, write_model_card

from conftest_hub import output_dir_fixture  # noqa: F401  (provides the fixture "output_dir")
from hub_server import hub_server_fixture  # noqa: F401  (provides the fixture "hub_server")

REPO_ID = "test-user/kcbert-nsmc"
HYPERPARAMETERS = {
    "learning_rate": 5e-5,
    "lr_scheduler": "ExponentialLR gamma 0.9 per epoch",
    "train_batch_size": 32,
    "eval_batch_size": 32,
    "num_epochs": 3,
    "seed": 7,
    "max_seq_length": 128,
}
UPLOADED = {
    ".gitattributes",
    "README.md",
    "all_results.json",
    "config.json",
    "eval_results.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "train_results.json",
    "trainer_state.json",
}


def front_matter(readme: Path) -> dict:
    _, metadata, _ = readme.read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(metadata)


def digest(directory: Path) -> dict[str, str]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """One Hub for the module, so the model is pushed once and pulled by several tests."""
    with running_hub_server(tmp_path_factory.mktemp("hub")) as server:
        yield server


@pytest.fixture(scope="module")
def card_dir(output_dir: Path, hub: HubServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished training output: model, results, model card, and a training_args.bin holding the token."""
    directory = tmp_path_factory.mktemp("card") / "kcbert-nsmc"
    shutil.copytree(output_dir, directory)
    (directory / "training_args.bin").write_bytes(b"pickled TrainingArguments, hub_token=" + hub.token.encode())
    (directory / "checkpoint-63").mkdir()
    shutil.copy(directory / "model.safetensors", directory / "checkpoint-63" / "model.safetensors")
    write_model_card(directory, base_model="beomi/kcbert-base", hyperparameters=HYPERPARAMETERS, hub_model_id=REPO_ID)
    return directory


@pytest.fixture(scope="module")
def pushed(hub: HubServer, card_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return push(hub, tmp_path_factory.mktemp("hf-push"), card_dir, REPO_ID, token=hub.token)


@pytest.fixture
def fake_output_dir(tmp_path: Path) -> Path:
    """Enough of an output directory for pushes that must fail before or while uploading."""
    directory = tmp_path / "fake-output"
    directory.mkdir()
    (directory / "model.safetensors").write_bytes(bytes(range(256)) * 8)
    (directory / "config.json").write_text('{"model_type": "bert"}')
    (directory / "all_results.json").write_text(json.dumps(EVAL_RESULTS))
    return directory


def test_model_card_has_hub_metadata_results_hyperparameters_and_usage(card_dir):
    readme = card_dir / "README.md"
    meta = front_matter(readme)
    assert meta["language"] == "ko"
    assert meta["license"] == "mit"
    assert meta["datasets"] == ["nsmc"]
    assert meta["pipeline_tag"] == "text-classification"
    assert meta["base_model"] == "beomi/kcbert-base"
    assert "sentiment-analysis" in meta["tags"]
    [entry] = meta["model-index"]
    assert entry["name"] == "kcbert-nsmc"
    [result] = entry["results"]
    assert result["task"]["type"] == "text-classification"
    assert result["dataset"]["type"] == "nsmc"
    assert {m["type"]: m["value"] for m in result["metrics"]} == {"accuracy": 0.8123, "f1": 0.8098}
    assert validate_card_metadata(readme.read_text(encoding="utf-8")) == ([], [])

    text = readme.read_text(encoding="utf-8")
    assert "감성 분류" in text and "sentiment classification" in text
    for expected in ("| Accuracy | 0.8123 |", "| F1 | 0.8098 |", "500 reviews", "after epoch 3"):
        assert expected in text
    for expected in (
        "| Learning rate | 5e-05 |",
        "ExponentialLR gamma 0.9 per epoch",
        "| Seed | 7 |",
        "| Max sequence length | 128 |",
    ):
        assert expected in text
    assert f'pipeline("text-classification", model="{REPO_ID}")' in text
    assert f'AutoModelForSequenceClassification.from_pretrained("{REPO_ID}")' in text


def test_model_card_from_training_args_never_holds_the_token(tmp_path):
    args = NsmcTrainingArguments(output_dir=str(tmp_path), hub_token="hf_SECRET_in_args", learning_rate=3e-5)
    hyperparameters = hyperparameters_from_args(args, max_seq_length=64) | {"hub_token": "hf_SECRET_in_dict"}
    readme = write_model_card(tmp_path, base_model=str(TINY_MODEL), hyperparameters=hyperparameters, eval_results={})

    text = readme.read_text(encoding="utf-8")
    assert "hf_SECRET" not in text
    assert "| Learning rate | 3e-05 |" in text and "| Max sequence length | 64 |" in text
    assert "ExponentialLR gamma 0.9 per epoch" in text and "| Train batch size (per device) | 32 |" in text
    meta = front_matter(readme)
    assert "base_model" not in meta, "a local path is not a Hub id and would be rejected as base_model"
    assert "model-index" not in meta and "No evaluation results" in text
    assert validate_card_metadata(text) == ([], [])


def test_push_uploads_the_model_files_only_and_never_the_token(hub, pushed, card_dir):
    assert pushed == {"url": f"{hub.url}/{REPO_ID}"}
    repo = hub.repos[REPO_ID]
    assert repo.visibility == "public"
    assert set(repo.files) == UPLOADED
    assert repo.files["model.safetensors"] == (card_dir / "model.safetensors").read_bytes()
    assert repo.head.entries["model.safetensors"].lfs_sha256 is not None
    assert repo.head.title == "Upload NSMC sentiment classifier"
    assert not [name for name, data in repo.files.items() if hub.token.encode() in data]
    assert "POST /api/validate-yaml" in hub.requests
    assert hub.unhandled == [] and hub.cdn_requests_with_auth == []


def test_pulled_model_predicts_like_the_local_one(hub, pushed, card_dir, tmp_path):
    code = f"""
import json
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
reviews = {REVIEWS!r}
model = AutoModelForSequenceClassification.from_pretrained("{REPO_ID}")
tokenizer = AutoTokenizer.from_pretrained("{REPO_ID}")
explicit = pipeline("text-classification", model=model, tokenizer=tokenizer)(reviews)
by_id = pipeline("text-classification", model="{REPO_ID}")(reviews)
inferred_task = pipeline(model="{REPO_ID}")(reviews)
print(json.dumps([explicit, by_id, inferred_task]))
"""
    hf_home = tmp_path / "hf-pull"
    result = run_python(["-c", code], hub.client_env(hf_home))
    assert result.returncode == 0, result.stderr[-3000:]

    local = pipeline("text-classification", model=str(card_dir))(REVIEWS)
    for remote in json.loads(result.stdout.strip().splitlines()[-1]):
        assert [r["label"] for r in remote] == [r["label"] for r in local]
        assert [r["score"] for r in remote] == pytest.approx([r["score"] for r in local], abs=1e-6)
    assert list((hf_home / "hub").glob("models--test-user--kcbert-nsmc/snapshots/*/model.safetensors"))
    assert hub.unhandled == [] and hub.cdn_requests_with_auth == []


def test_private_push_from_the_cli_is_private_on_the_hub(hub, card_dir, tmp_path):
    repo_id = "test-org/kcbert-nsmc-private"
    cli = [str(Path(sys.executable).with_name("nsmc-push")), str(card_dir), "--hub_model_id", repo_id, "--private", "--token", hub.token]
    result = run_python(cli, hub.client_env(tmp_path / "hf-cli"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"{hub.url}/{repo_id}"
    assert hub.repos[repo_id].private

    code = f"""
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import RepositoryNotFoundError
try:
    hf_hub_download("{repo_id}", "config.json", token=False)
    print("anonymous download worked")
except RepositoryNotFoundError:
    print("anonymous refused")
hf_hub_download("{repo_id}", "config.json", token="{hub.read_token}")
print("token download worked")
"""
    result = run_python(["-c", code], hub.client_env(tmp_path / "hf-private"))
    assert result.stdout.split("\n")[:2] == ["anonymous refused", "token download worked"], result.stderr[-3000:]


def test_private_push_into_an_existing_public_repo_is_refused(hub, pushed, card_dir, tmp_path):
    commits = len(hub.repos[REPO_ID].commits)
    outcome = push(hub, tmp_path / "hf", card_dir, REPO_ID, token=hub.token, private=True)
    assert f"{REPO_ID} already exists on {hub.url} and is public" in outcome["error"]
    assert len(hub.repos[REPO_ID].commits) == commits and not hub.repos[REPO_ID].private


def test_wrong_token_fails_clearly_and_leaves_the_output_dir_alone(hub_server, fake_output_dir, tmp_path):
    before = digest(fake_output_dir)
    outcome = push(hub_server, tmp_path / "hf", fake_output_dir, "test-user/nsmc", token="hf_not_a_valid_token")

    message = outcome["error"]
    assert "rejected the token (401 Unauthorized" in message and hub_server.url in message
    assert f"nsmc-push {fake_output_dir} --hub_model_id test-user/nsmc" in message
    assert digest(fake_output_dir) == before
    assert hub_server.repos == {}


def test_push_without_write_access_is_rejected_clearly(hub_server, fake_output_dir, tmp_path):
    outcome = push(hub_server, tmp_path / "hf", fake_output_dir, "someone-else/nsmc", token=hub_server.token)
    assert "refused the push to someone-else/nsmc (403 Forbidden" in outcome["error"]
    assert "write access to the 'someone-else' namespace" in outcome["error"]

    hub_server.create_repo("model", "test-user/read-only", "public")
    outcome = push(hub_server, tmp_path / "hf", fake_output_dir, "test-user/read-only", token=hub_server.read_token)
    assert "403 Forbidden" in outcome["error"] and "nsmc-push" in outcome["error"]
    assert set(hub_server.repos["test-user/read-only"].files) == {".gitattributes"}


def test_unreachable_hub_names_the_endpoint_and_the_retry_command(hub_server, fake_output_dir, tmp_path):
    hub_server.stop()
    outcome = push(hub_server, tmp_path / "hf", fake_output_dir, "test-user/nsmc", token=hub_server.token)
    message = outcome["error"]
    assert f"Could not reach the Hugging Face Hub at {hub_server.url}" in message
    assert f"nsmc-push {fake_output_dir} --hub_model_id test-user/nsmc" in message


def test_missing_token_fails_before_contacting_the_hub(hub_server, fake_output_dir, tmp_path):
    outcome = push(hub_server, tmp_path / "hf", fake_output_dir, "test-user/nsmc")
    assert outcome["error"].startswith("No Hugging Face token")
    assert hub_server.requests == []


def test_files_holding_the_token_are_never_pushed(fake_output_dir):
    (fake_output_dir / "README.md").write_text("token: hf_leaked_token_123\n")
    with pytest.raises(PushError, match="README.md contains the Hugging Face token"):
        push_output_dir(fake_output_dir, "test-user/nsmc", token="hf_leaked_token_123")


def test_push_needs_model_weights(tmp_path):
    with pytest.raises(PushError, match="No model weights"):
        push_output_dir(tmp_path, "test-user/nsmc", token="hf_x")


LOG_HISTORY = [
    {"epoch": 0.5, "step": 2, "loss": 0.70, "learning_rate": 1e-3},
    {"epoch": 1.0, "step": 4, "loss": 0.66, "learning_rate": 1e-3},
    {"epoch": 1.0, "step": 4, "eval_loss": 0.64, "eval_accuracy": 0.61},
    {"epoch": 1.5, "step": 6, "loss": 0.58, "learning_rate": 9e-4},
    {"epoch": 2.0, "step": 8, "loss": 0.55, "learning_rate": 9e-4},
    {"epoch": 2.0, "step": 8, "eval_loss": 0.66, "eval_accuracy": 0.63},
]


def test_nsmc_push_draws_missing_learning_curves_and_puts_them_in_the_card(hub, card_dir, tmp_path):
    pytest.importorskip("matplotlib")
    directory = tmp_path / "trained-without-matplotlib"
    shutil.copytree(card_dir, directory)
    (directory / "trainer_state.json").write_text(json.dumps({"epoch": 2.0, "log_history": LOG_HISTORY}))
    assert "training_curves.png" not in (directory / "README.md").read_text(encoding="utf-8")

    repo_id = "test-user/kcbert-nsmc-curves"
    cli = [str(Path(sys.executable).with_name("nsmc-push")), str(directory), "--hub_model_id", repo_id, "--token", hub.token]
    result = run_python(cli, hub.client_env(tmp_path / "hf-cli"))
    assert result.returncode == 0, result.stderr[-3000:]

    files = hub.repos[repo_id].files
    assert files["training_curves.png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert "![" in files["README.md"].decode() and "](training_curves.png)" in files["README.md"].decode()


def test_card_names_the_hub_base_model_of_a_local_copy_never_its_path(tmp_path):
    saved = tmp_path / "kcbert-copy"
    saved.mkdir()
    (saved / "config.json").write_text(json.dumps({"_name_or_path": "beomi/kcbert-base", "model_type": "bert"}))
    snapshot = tmp_path / "hub" / "models--beomi--kcbert-base" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    for base in (saved, snapshot):
        readme = write_model_card(tmp_path, base_model=str(base), hyperparameters=HYPERPARAMETERS, eval_results={})
        text = readme.read_text(encoding="utf-8")
        assert front_matter(readme)["base_model"] == "beomi/kcbert-base"
        assert str(base) not in text
        assert validate_card_metadata(text) == ([], [])
