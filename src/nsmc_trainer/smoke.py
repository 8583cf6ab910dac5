"""`run_nsmc.py --smoke_test`: the whole pipeline in under a minute, with no network and no input files.

Made on the spot in a temporary directory: a labelled Korean-like corpus in NSMC's format, a
WordPiece tokenizer and a tiny random BERT; then `train()`, the function a real run calls, and a
reload of the saved model for predictions. One line per stage; the first failure exits with 1.
"""

import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

from .config import EXIT_ERROR, LABEL_COLUMN, TEXT_COLUMN, DataArguments, ModelArguments, NsmcTrainingArguments
from .data import NSMC_SPLIT_FILES, load_nsmc
from .model import load_classifier
from .predict import classify
from .train import train

SEED = 7
TRAIN_REVIEWS = 512
TEST_REVIEWS = 128
SMOKE_MAX_LENGTH = 64
VOCAB_SIZE = 600
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# A model that learned nothing scores about 0.5 on this balanced corpus; its sentiment phrases
# make it easy, so a working pipeline ends far above this.
MIN_ACCURACY = 0.75
LOG_TAIL_LINES = 30

POSITIVE = [
    "정말 재밌어요", "최고의 영화", "감동적이네요", "강력 추천합니다", "명작입니다", "연기가 훌륭하다",
    "또 보고 싶다", "시간 가는 줄 몰랐다", "여운이 남네요", "완벽했다", "배우들 연기 최고", "웃기고 따뜻하다",
]  # fmt: skip
NEGATIVE = [
    "너무 지루해요", "최악의 영화", "시간 아깝다", "돈 아까움", "실망했습니다", "연기가 어색하다",
    "다시는 안 본다", "졸려서 잤다", "억지스럽다", "별로였다", "스토리가 엉망", "보다가 나왔다",
]  # fmt: skip
NEUTRAL = [
    "아", "진짜", "그냥", "오랜만에", "주말에 봤는데", "친구랑 봤는데", "솔직히", "근데", "ㅋㅋ", "..", "ㅎㅎ",
    "이 영화", "결말은", "감독이", "음악도", "주인공이", "2시간 동안", "극장에서",
]  # fmt: skip
SAMPLES = ["주말에 봤는데 정말 재밌어요 강력 추천합니다", "솔직히 시간 아깝다 너무 지루해요"]


class SmokeTestFailure(Exception):
    """A stage ran but its result is wrong."""


@dataclass
class SmokeRun:
    """What the stages hand to each other."""

    work_dir: Path
    tokenizer: PreTrainedTokenizerFast | None = None
    eval_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def model_dir(self) -> Path:
        return self.work_dir / "random-bert"

    @property
    def output_dir(self) -> Path:
        return self.work_dir / "output"


def generate_review(rng: random.Random, label: int) -> str:
    phrases = POSITIVE if label == 1 else NEGATIVE
    words = rng.sample(NEUTRAL, rng.randint(1, 2)) + rng.sample(phrases, rng.randint(1, 2))
    if rng.random() < 0.5:
        words.append(rng.choice(NEUTRAL))
    return " ".join(words)


def write_nsmc_file(path: Path, rng: random.Random, count: int, first_id: int) -> None:
    rows = ["id\tdocument\tlabel"]
    for offset in range(count):
        label = offset % 2
        rows.append(f"{first_id + offset}\t{generate_review(rng, label)}\t{label}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def make_corpus(run: SmokeRun) -> str:
    rng = random.Random(SEED)
    run.data_dir.mkdir(parents=True)
    write_nsmc_file(run.data_dir / NSMC_SPLIT_FILES["train"], rng, TRAIN_REVIEWS, first_id=1)
    write_nsmc_file(run.data_dir / NSMC_SPLIT_FILES["test"], rng, TEST_REVIEWS, first_id=TRAIN_REVIEWS + 1)
    return f"{TRAIN_REVIEWS} train / {TEST_REVIEWS} test generated reviews in NSMC's format"


def make_tokenizer(run: SmokeRun) -> str:
    """A cased WordPiece tokenizer like kcbert's; accents are kept, as stripping them splits Hangul."""
    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    reviews = load_nsmc(run.data_dir)["train"][TEXT_COLUMN]
    trainer = trainers.WordPieceTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS, show_progress=False)
    backend.train_from_iterator(reviews, trainer)
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[(token, backend.token_to_id(token)) for token in ("[CLS]", "[SEP]")],
    )
    run.tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=SMOKE_MAX_LENGTH,
    )
    return f"WordPiece trained with `tokenizers`, {len(run.tokenizer)} tokens"


def make_model(run: SmokeRun) -> str:
    torch.manual_seed(SEED)
    config = BertConfig(
        vocab_size=len(run.tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=SMOKE_MAX_LENGTH,
        pad_token_id=run.tokenizer.pad_token_id,
    )
    model = BertForSequenceClassification(config)
    model.save_pretrained(run.model_dir)
    run.tokenizer.save_pretrained(run.model_dir)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    return f"random-init BERT, 2 layers, hidden 32, {parameters:,} parameters"


def fine_tune(run: SmokeRun) -> str:
    run.eval_metrics = train(
        ModelArguments(model_name_or_path=str(run.model_dir)),
        DataArguments(
            data_dir=str(run.data_dir),
            features_cache_dir=str(run.work_dir / "features"),
            max_seq_length=SMOKE_MAX_LENGTH,
        ),
        NsmcTrainingArguments(
            output_dir=str(run.output_dir),
            num_train_epochs=2,
            learning_rate=3e-3,
            per_device_train_batch_size=16,
            per_device_eval_batch_size=64,
            logging_steps=16,
            report_to="none",
            disable_tqdm=True,
            log_level="error",
            seed=SEED,
        ),
    )
    return f"2 epochs with train() on {run.data_dir.name}/, best checkpoint saved to {run.output_dir.name}/"


def check_evaluation(run: SmokeRun) -> str:
    accuracy = run.eval_metrics.get("eval_accuracy")
    if accuracy is None:
        raise SmokeTestFailure(f"no eval_accuracy in the evaluation results {run.eval_metrics}")
    if accuracy < MIN_ACCURACY:
        raise SmokeTestFailure(f"accuracy {accuracy:.3f} is below {MIN_ACCURACY}: the model did not learn")
    metrics = run.eval_metrics
    return f"accuracy {accuracy:.3f}, macro F1 {metrics['eval_f1']:.3f}, loss {metrics['eval_loss']:.3f}"


def classify_with(model_dir: Path, texts: list[str]) -> list[tuple[str, float]]:
    """Label and probability of each text, with the model and tokenizer loaded from `model_dir`."""
    tokenizer, model = load_classifier(str(model_dir), device="cpu")
    return [(result["label"], result["score"]) for result in classify(texts, tokenizer, model)]


def check_reload(run: SmokeRun) -> str:
    """The model saved in output_dir must be the one evaluated: it scores the same on the test reviews."""
    test = load_nsmc(run.data_dir)["test"]
    label_names = test.features[LABEL_COLUMN].names
    predicted = [label for label, _ in classify_with(run.output_dir, list(test[TEXT_COLUMN]))]
    accuracy = sum(label == label_names[gold] for label, gold in zip(predicted, test[LABEL_COLUMN])) / len(test)
    if abs(accuracy - run.eval_metrics["eval_accuracy"]) > 1 / len(test):
        raise SmokeTestFailure(
            f"the reloaded model scores {accuracy:.3f}, the evaluated one {run.eval_metrics['eval_accuracy']:.3f}"
        )
    return f"reloaded from {run.output_dir.name}/: accuracy {accuracy:.3f} on the test reviews"


def check_predictions(run: SmokeRun) -> str:
    predictions = classify_with(run.output_dir, SAMPLES)
    expected = ["positive", "negative"]
    if [label for label, _ in predictions] != expected:
        raise SmokeTestFailure(f"predicted {predictions} for {SAMPLES}, expected {expected}")
    return "; ".join(f'"{text}" -> {label} ({score:.2f})' for text, (label, score) in zip(SAMPLES, predictions))


STAGES: list[tuple[str, Callable[[SmokeRun], str]]] = [
    ("corpus", make_corpus),
    ("tokenizer", make_tokenizer),
    ("model", make_model),
    ("train", fine_tune),
    ("evaluate", check_evaluation),
    ("save/load", check_reload),
    ("predict", check_predictions),
]


def run_stages(run: SmokeRun, report: TextIO, log: TextIO) -> bool:
    """One report line per stage; what the stages print themselves (Trainer's logs) goes to `log`,
    whose end is shown when a stage fails."""
    for name, stage in STAGES:
        started = time.perf_counter()
        try:
            with redirect_stdout(log), redirect_stderr(log):
                summary = stage(run)
        except Exception as error:
            traceback.print_exc(file=log)
            log.flush()
            print(f"  [FAILED] {name:<10} {type(error).__name__}: {error}", file=report)
            print(f"--- last lines of the log ---\n{tail(Path(log.name), LOG_TAIL_LINES)}", file=report)
            return False
        print(f"  [ok] {name:<10} {summary} ({time.perf_counter() - started:.1f}s)", file=report, flush=True)
    return True


def tail(path: Path, lines: int) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def run_smoke_test() -> int:
    """Run every stage in a temporary directory that is removed afterwards; 0 if all passed.

    One torch thread: a model this small gains nothing from more, and loses much on a busy machine.
    """
    started = time.perf_counter()
    report = sys.stdout
    print("nsmc-trainer smoke test: the whole pipeline on generated data, no network, no input files", file=report)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="nsmc-smoke-") as work_dir:
            with open(Path(work_dir) / "smoke.log", "w", encoding="utf-8") as log:
                passed = run_stages(SmokeRun(Path(work_dir)), report, log)
    finally:
        torch.set_num_threads(threads)
    elapsed = time.perf_counter() - started
    print(f"smoke test {'passed' if passed else 'FAILED'} in {elapsed:.1f}s", file=report, flush=True)
    return 0 if passed else EXIT_ERROR
