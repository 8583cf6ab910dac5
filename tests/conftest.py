"""Shared test material lives in ../shared (read in place, never copied); tests skip without it."""

import os
from pathlib import Path

import datasets
import pytest

# The suite starts many small training processes, two at a time in the DDP tests: one thread each
# keeps them from oversubscribing a 2-core CI machine (set before any test imports torch).
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
NSMC_MINI = SHARED / "data" / "nsmc-mini"
NSMC_FULL = SHARED / "data" / "nsmc"
KCBERT_TOKENIZER = SHARED / "models" / "kcbert-base-tokenizer"
TINY_MODEL = SHARED / "models" / "bert-tiny-kcbert"


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: this test reads the project's ../shared material in place")
    return path


@pytest.fixture(autouse=True, scope="session")
def private_datasets_cache(tmp_path_factory) -> Path:
    """Tests never read or fill the user's datasets cache: a hit left by an earlier run would skip
    the parsing and tokenizing that a test means to exercise. Training subprocesses inherit it."""
    path = tmp_path_factory.mktemp("hf-datasets-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("HF_DATASETS_CACHE", str(path))
    patch.setattr(datasets.config, "HF_DATASETS_CACHE", path)
    yield path
    patch.undo()


@pytest.fixture
def nsmc_mini() -> Path:
    return require(NSMC_MINI)


@pytest.fixture
def kcbert_tokenizer_dir() -> Path:
    return require(KCBERT_TOKENIZER)


@pytest.fixture
def tiny_model_dir() -> Path:
    return require(TINY_MODEL)


def train_on_mini(output_dir: Path, features_cache_dir: Path, **data_flags) -> dict:
    """A real one-epoch run of the tiny model on 64 nsmc-mini reviews, evaluated on 32."""
    from nsmc_trainer.config import DataArguments, ModelArguments, NsmcTrainingArguments
    from nsmc_trainer.train import train

    return train(
        ModelArguments(model_name_or_path=str(require(TINY_MODEL))),
        DataArguments(
            data_dir=str(require(NSMC_MINI)),
            max_train_samples=64,
            max_eval_samples=32,
            features_cache_dir=str(features_cache_dir),
            **data_flags,
        ),
        NsmcTrainingArguments(output_dir=str(output_dir), num_train_epochs=1, report_to="none", disable_tqdm=True),
    )
