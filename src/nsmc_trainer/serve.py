"""The book's web demo on Gradio: a page and a JSON API (`POST /api/classify`) in front of a
fine-tuned classifier, sharing one `Batcher` that classifies concurrent requests together.

gradio is imported only when the demo starts, so a training install stays without it.
"""

import asyncio
import json
import logging
import os
import queue
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .config import MAX_SEQ_LENGTH
from .model import is_hub_id, load_classifier
from .model_card import RESULTS_FILES, card_metric, load_eval_results, metric_value
from .predict import classify

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_MAX_BATCH_SIZE = 32
# Texts per forward pass on the CPU once a gathered batch is sorted by length. A CPU pass costs about
# its padded tokens: 8 NSMC reviews in one pass are 2.25x their real tokens, in two sorted passes of 4
# 1.5x. A GPU is faster with the whole gathered batch in one pass.
CPU_BATCH_SIZE = 4
DEFAULT_MAX_WAIT_MS = 10.0
# Request limits: a client cannot make one request cost more than a few batches, or the server's memory.
MAX_TEXTS = 64
MAX_TEXT_CHARS = 100_000
MAX_BODY_BYTES = 8 * 1024 * 1024
INSTALL_HINT = 'the web demo needs gradio: pip install -e ".[serve]" (or pip install gradio)'
# System fonts only: gradio's default theme would name fonts the page fetches; Korean needs a CJK font.
SYSTEM_FONTS = ("Noto Sans KR", "NanumGothic", "Apple SD Gothic Neo", "Malgun Gothic", "system-ui", "sans-serif")
MONO_FONTS = ("ui-monospace", "Consolas", "monospace")
KOREAN_LABELS = {"negative": "부정", "positive": "긍정"}
EXAMPLES = (
    "아 더빙.. 진짜 짜증나네요 목소리",
    "사이몬페그의 익살스런 연기가 돋보였던 영화!스파이더맨에서 늙어보이기만 했던 커스틴 던스트가 너무나도 이뻐보였다",
    "너무재밓었다그래서보는것을추천한다",
    "시간 아깝다. 돈 주고 볼 영화는 아님",
    "배우들 연기가 좋았고 마지막 장면에서 울었어요",
)
JSON_TYPES = {bool: "boolean", int: "number", float: "number", type(None): "null", list: "array", dict: "object"}


class ServeError(RuntimeError):
    """A problem the user fixes (a missing model, a taken port); printed as one line, exit status 1."""


class RequestError(ValueError):
    """A bad API request: answered with `status` and a JSON message, the server carries on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Job:
    texts: list[str]
    future: Future = field(default_factory=Future)


class Batcher:
    """Classifies the texts of many concurrent requests in shared batches, on one worker thread.

    The worker takes the requests that queued up while it was busy, up to `max_batch_size` texts, so
    batches grow with the load and a lone request waits for nobody; `predict.classify` sorts them by
    length into forward passes of `batch_size`. `max_batch_size=1` turns batching off: requests are
    classified one at a time, as by the book's server.
    """

    def __init__(
        self, tokenizer: Any, model: Any, max_batch_size: int, batch_size: int, max_seq_length: int, max_wait_ms: float
    ) -> None:
        self.tokenizer, self.model = tokenizer, model
        self.max_batch_size, self.batch_size, self.max_seq_length = max_batch_size, batch_size, max_seq_length
        self.max_wait_s = max_wait_ms / 1000
        self._expected = 1
        # Requests per gathered batch, for /api/info: shows whether concurrent requests were batched.
        self.requests_per_batch: Counter[int] = Counter()
        self.lock = threading.Lock()
        self._jobs: queue.Queue[_Job] = queue.Queue()
        threading.Thread(target=self._run, name="nsmc-batcher", daemon=True).start()

    def submit(self, texts: list[str]) -> Future:
        """A future of one result per text: classify's {label, score, probabilities}, plus tokens, truncated."""
        job = _Job(list(texts))
        self._jobs.put(job)
        return job.future

    def batch_counts(self) -> dict[int, int]:
        """{requests in one gathered batch: how many such batches}, copied under the worker's lock."""
        with self.lock:
            return dict(self.requests_per_batch)

    def _take_jobs(self) -> list[_Job]:
        """The next batch of requests: those queued, and up to max_wait for as many as the last batch held.

        The clients a batch answered send their next requests a few milliseconds apart; without the
        wait the first of them would be classified alone and the others one batch later.
        """
        jobs = [self._jobs.get()]
        deadline = time.monotonic() + self.max_wait_s
        while sum(len(job.texts) for job in jobs) < self.max_batch_size:
            wait = deadline - time.monotonic() if len(jobs) < self._expected else 0
            try:
                jobs.append(self._jobs.get(timeout=wait) if wait > 0 else self._jobs.get_nowait())
            except queue.Empty:
                break
        self._expected = len(jobs)
        return jobs

    def _classify(self, texts: list[str]) -> list[dict[str, Any]]:
        # Counted without truncation, so the answer can say which texts the model saw only in part.
        lengths = [len(ids) for ids in self.tokenizer(texts, verbose=False)["input_ids"]]
        results = classify(texts, self.tokenizer, self.model, self.batch_size, self.max_seq_length)
        for result, length in zip(results, lengths, strict=True):
            result["tokens"] = min(length, self.max_seq_length)
            result["truncated"] = length > self.max_seq_length
        return results

    def _run(self) -> None:
        while True:
            jobs = self._take_jobs()
            texts = [text for job in jobs for text in job.texts]
            try:
                results = self._classify(texts)
            except Exception as err:  # the requests fail, the worker must live on for the next ones
                logger.exception("classifying %d texts failed", len(texts))
                for job in jobs:
                    job.future.set_exception(err)
                continue
            with self.lock:
                self.requests_per_batch[len(jobs)] += 1
            start = 0
            for job in jobs:
                job.future.set_result(results[start : start + len(job.texts)])
                start += len(job.texts)


@dataclass
class ModelInfo:
    """What the page says about the model: its name and how it scored on the NSMC test set."""

    name: str
    accuracy: float | None = None
    eval_samples: int | None = None


def _results_folder(model: str, token: str | None) -> Path | None:
    """A local folder with the model's results files and card: the model's own, or the Hub's copy."""
    if not is_hub_id(model):
        return Path(model)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model, allow_patterns=[*RESULTS_FILES, "README.md"], token=token))
    except Exception as err:  # the accuracy is a nicety: the demo runs without it
        logger.warning("could not download the evaluation results of %s: %s", model, err)
        return None


def model_info(model: str, token: str | None = None) -> ModelInfo:
    """Accuracy from Trainer's all_results.json / eval_results.json, else from the README card."""
    folder = _results_folder(model, token)
    if folder is None:
        return ModelInfo(model)
    results = load_eval_results(folder)
    accuracy = metric_value(results, "accuracy")
    if accuracy is None and (folder / "README.md").is_file():
        accuracy = card_metric(folder / "README.md", "accuracy")
    samples = results.get("eval_samples")
    return ModelInfo(model, accuracy, int(samples) if samples else None)


# --- the HTTP API ---


def _json_type(value: Any) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


def parse_request(body: bytes) -> tuple[list[str], bool]:
    """The texts of a POST /api/classify body, and whether it was one "text" rather than "texts"."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestError(400, f"malformed JSON: {err}") from None
    if not isinstance(payload, dict) or len({"text", "texts"} & payload.keys()) != 1:
        raise RequestError(400, 'send a JSON object {"text": "..."} or {"texts": ["...", ...]}')
    single = "text" in payload
    texts = [payload["text"]] if single else payload["texts"]
    if not isinstance(texts, list):
        raise RequestError(400, f'"texts" must be an array of strings, not a {_json_type(texts)}')
    if not texts:
        raise RequestError(400, '"texts" is empty: send at least one text')
    if len(texts) > MAX_TEXTS:
        raise RequestError(413, f"{len(texts)} texts in one request; the limit is {MAX_TEXTS}: send several requests")
    for i, text in enumerate(texts):
        where = '"text"' if single else f'"texts"[{i}]'
        if not isinstance(text, str):
            raise RequestError(400, f"{where} must be a string, not a {_json_type(text)}")
        if not text.strip():
            raise RequestError(400, f"{where} is empty or only whitespace: there is nothing to classify")
        if len(text) > MAX_TEXT_CHARS:
            raise RequestError(413, f"{where} has {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}")
    return texts, single


async def _read_body(request: Any) -> bytes:
    """The body, refused past MAX_BODY_BYTES while it streams in, not after it filled memory."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestError(413, f"request body over {MAX_BODY_BYTES:,} bytes")
    return bytes(body)


def api_routes(batcher: Batcher, info: ModelInfo) -> list[Any]:
    """POST /api/classify and GET /api/info, as FastAPI routes for the app gradio creates."""
    from fastapi import Request
    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute

    async def classify_texts(request: Request) -> JSONResponse:
        try:
            texts, single = parse_request(await _read_body(request))
        except RequestError as err:
            return JSONResponse({"error": str(err)}, status_code=err.status)
        try:
            results = await asyncio.wrap_future(batcher.submit(texts))
        except Exception as err:  # logged with its traceback by the worker; the client gets one line
            return JSONResponse({"error": f"classification failed: {type(err).__name__}: {err}"}, status_code=500)
        return JSONResponse(results[0] if single else {"results": results})

    async def describe() -> dict[str, Any]:
        return {
            "model": info.name,
            "eval_accuracy": info.accuracy,
            "labels": list(batcher.model.config.id2label.values()),
            "max_seq_length": batcher.max_seq_length,
            "max_batch_size": batcher.max_batch_size,
            "batch_size": batcher.batch_size,
            "max_texts": MAX_TEXTS,
            "max_text_chars": MAX_TEXT_CHARS,
            "requests_per_batch": batcher.batch_counts(),
        }

    return [
        APIRoute("/api/classify", classify_texts, methods=["POST"], include_in_schema=False),
        APIRoute("/api/info", describe, methods=["GET"], include_in_schema=False),
    ]


# --- the page ---


def import_gradio() -> ModuleType:
    """gradio with its telemetry off, or a ServeError saying how to install it."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError:
        raise ServeError(INSTALL_HINT) from None
    return gradio


def _label_name(label: str) -> str:
    return f"{KOREAN_LABELS[label]} {label}" if label in KOREAN_LABELS else label


def _model_line(info: ModelInfo) -> str:
    if info.accuracy is None:
        score = "평가 결과 없음 · no evaluation results found"
    else:
        on = f"NSMC test, {info.eval_samples:,} reviews" if info.eval_samples else "NSMC test"
        score = f"평가 정확도 · evaluation accuracy **{info.accuracy:.2%}** ({on})"
    return f"모델 · Model: `{info.name}` · {score}"


def _details(result: dict[str, Any], max_seq_length: int) -> str:
    """Both probabilities to 4 decimals, and whether the review was cut to the model's length."""
    rows = "\n".join(f"| {_label_name(name)} | {p:.4f} |" for name, p in result["probabilities"].items())
    tokens = f"토큰 {result['tokens']}개 · {result['tokens']} tokens"
    if result["truncated"]:
        tokens += f" — 앞 {max_seq_length} 토큰만 읽었습니다 · truncated to the first {max_seq_length} tokens"
    return f"| 클래스 · class | 확률 · probability |\n|---|---|\n{rows}\n\n{tokens}"


def build_demo(batcher: Batcher, info: ModelInfo) -> Any:
    """The page: a text box, example reviews, the label with both probabilities as bars."""
    gr = import_gradio()

    def classify_review(text: str) -> tuple[dict[str, float], str]:
        if not text or not text.strip():
            raise gr.Error("리뷰를 입력하세요 · Type a review first.")
        try:
            result = batcher.submit([text[:MAX_TEXT_CHARS]]).result()[0]
        except Exception as err:  # logged with its traceback by the worker; the page shows one line
            raise gr.Error(f"분류 실패 · classification failed: {type(err).__name__}: {err}") from err
        bars = {_label_name(name): p for name, p in result["probabilities"].items()}
        return bars, _details(result, batcher.max_seq_length)

    with gr.Blocks(title="NSMC 영화 리뷰 감성 분류", analytics_enabled=False) as demo:
        gr.Markdown(
            "# 영화 리뷰 감성 분류 · Movie review sentiment\n"
            "영화 리뷰를 입력하고 **분류**를 누르면 모델이 부정/긍정을 예측합니다. "
            "Type a Korean movie review and press **Classify**: the model predicts negative or positive.\n\n"
            + _model_line(info)
        )
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(
                    label="리뷰 · Review",
                    placeholder="예: 배우들 연기가 좋았어요",
                    lines=4,
                    max_length=MAX_TEXT_CHARS,
                    elem_id="review",
                )
                button = gr.Button("분류 · Classify", variant="primary", elem_id="classify")
            with gr.Column():
                label = gr.Label(label="예측 · Prediction", num_top_classes=2, elem_id="prediction")
                details = gr.Markdown(elem_id="probabilities")
        gr.Examples(list(EXAMPLES), inputs=text, label="예시 리뷰 · Example reviews")
        # The batcher, not gradio's queue, decides what runs together: let every event reach it at once.
        gr.on(
            [button.click, text.submit],
            classify_review,
            text,
            [label, details],
            api_name="classify",
            concurrency_limit=None,
        )
    return demo


def serve(
    model: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    share: bool = False,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    batch_size: int | None = None,
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS,
    max_seq_length: int = MAX_SEQ_LENGTH,
    device: str | None = None,
    token: str | None = None,
) -> None:
    """Loads the model and serves the page and the API until interrupted."""
    tokenizer, classifier = load_classifier(model, device=device, token=token)
    gr = import_gradio()
    info = model_info(model, token)
    if batch_size is None:
        batch_size = CPU_BATCH_SIZE if classifier.device.type == "cpu" else max_batch_size
    batcher = Batcher(tokenizer, classifier, max_batch_size, batch_size, max_seq_length, max_wait_ms)
    demo = build_demo(batcher, info)
    theme = gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=list(MONO_FONTS))
    try:
        _, local_url, share_url = demo.queue().launch(
            server_name=host,
            server_port=port,
            share=share,
            theme=theme,
            ssr_mode=False,
            quiet=True,
            prevent_thread_lock=True,
            app_kwargs={"routes": api_routes(batcher, info)},
        )
    except OSError as err:  # gradio's message names its own launch() arguments: keep its first sentence
        raise ServeError(f"cannot serve on {host}:{port}: {str(err).split('. ')[0]}; choose another --port") from err
    print(f"nsmc-serve: {model} on {local_url} (JSON API: POST {local_url}api/classify)", file=sys.stderr, flush=True)
    if share_url:
        print(f"nsmc-serve: public link, for anyone who has it: {share_url}", file=sys.stderr, flush=True)
    demo.block_thread()


