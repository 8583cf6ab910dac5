"""nsmc-serve: the JSON API and its bad requests, batching, the page in a real browser, and a Space."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO
from conftest_hub import EVAL_RESULTS, REVIEWS, push, run_python
from nsmc_trainer.model import load_classifier
from nsmc_trainer.model_card import write_model_card
from nsmc_trainer.predict import predict
from nsmc_trainer.serve import MAX_TEXT_CHARS, MAX_TEXTS, Batcher, model_info

from conftest_hub import output_dir_fixture  # noqa: F401  (provides the fixture "output_dir")
from hub_server import USER, hub_server_fixture  # noqa: F401  (provides the fixture "hub_server")

pytest.importorskip("gradio", reason="nsmc-serve needs gradio: pip install -e '.[test]'")

NSMC_SERVE = str(Path(sys.executable).with_name("nsmc-serve"))

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing a browser does on its own (updates, sync, first-run pages) touches the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "out-test-artifacts"
# Straight to 127.0.0.1, whatever http_proxy the machine sets (gradio checks its own URL through httpx).
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, body: bytes) -> tuple[int, dict]:
    """(status, JSON answer) of a POST, error statuses included."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with LOCAL.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def post_json(url: str, payload: object) -> tuple[int, dict]:
    return post(url, json.dumps(payload, ensure_ascii=False).encode())


def get_json(url: str) -> dict:
    with LOCAL.open(url, timeout=30) as response:
        return json.loads(response.read())


def start_server(args: list[str], env: dict[str, str], cwd: Path, log: Path, port: int) -> tuple[subprocess.Popen, str]:
    """A server process listening on `port`, and its URL once GET /api/info answers; output goes to `log`."""
    with log.open("w") as out:
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            get_json(f"{url}/api/info")
            return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    pytest.fail(f"the server did not answer within 120 s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def server(output_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`nsmc-serve --model OUTPUT_DIR` on a free 127.0.0.1 port, for the whole module."""
    log, port = tmp_path_factory.mktemp("serve") / "server.log", free_port()
    args = [NSMC_SERVE, "--model", str(output_dir), "--port", str(port)]
    process, url = start_server(args, {**os.environ, **NO_PROXY}, REPO, log, port)
    yield url
    stop(process)


def test_api_classifies_one_text_or_a_list_as_predict_does(server, output_dir):
    expected = predict(REVIEWS, str(output_dir), device="cpu")

    status, one = post_json(f"{server}/api/classify", {"text": REVIEWS[0]})
    assert status == 200
    assert one["label"] == expected[0]["label"]
    assert one["probabilities"] == pytest.approx(expected[0]["probabilities"], abs=1e-5)
    assert one["truncated"] is False and one["tokens"] > 2

    status, many = post_json(f"{server}/api/classify", {"texts": REVIEWS})
    assert status == 200
    assert [r["label"] for r in many["results"]] == [e["label"] for e in expected]
    for result, want in zip(many["results"], expected, strict=True):
        assert result["score"] == pytest.approx(want["score"], abs=1e-5)
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)

    info = get_json(f"{server}/api/info")
    assert info["eval_accuracy"] == EVAL_RESULTS["eval_accuracy"]
    assert info["labels"] == ["negative", "positive"]


BAD_REQUESTS = [
    (b'{"text": ""}', 400, "empty"),
    ('{"text": " \\t\\n "}'.encode(), 400, "whitespace"),
    (b'{"text": 42}', 400, "must be a string, not a number"),
    (b'{"texts": ["fine", null]}', 400, '"texts"[1] must be a string, not a null'),
    (b'{"texts": "not a list"}', 400, "must be an array"),
    (b'{"texts": []}', 400, "is empty"),
    (json.dumps({"texts": ["좋아요"] * (MAX_TEXTS + 1)}).encode(), 413, f"the limit is {MAX_TEXTS}"),
    (json.dumps({"text": "가" * (MAX_TEXT_CHARS + 1)}).encode(), 413, "the limit is 100,000"),
    (b'{"text": "unclosed', 400, "malformed JSON"),
    (b"\xff\xfe not utf-8", 400, "malformed JSON"),
    (b"[1, 2]", 400, '{"text": "..."}'),
    (b'{"text": "a", "texts": ["b"]}', 400, '{"text": "..."}'),
    (b"x" * (9 * 1024 * 1024), 413, "request body over"),
]


@pytest.mark.parametrize("body,status,message", BAD_REQUESTS, ids=[message for _, _, message in BAD_REQUESTS])
def test_a_bad_request_gets_a_json_error_and_the_next_one_is_served(server, body, status, message):
    got, answer = post(f"{server}/api/classify", body)
    assert (got, list(answer)) == (status, ["error"])
    assert message in answer["error"] and "Traceback" not in answer["error"]

    assert post_json(f"{server}/api/classify", {"text": REVIEWS[1]})[0] == 200


def test_a_text_longer_than_the_model_reads_is_truncated_and_says_so(server):
    status, result = post_json(f"{server}/api/classify", {"text": "정말 재미있어요 " * (MAX_TEXT_CHARS // 9)})
    assert status == 200
    assert result["truncated"] is True and result["tokens"] == 128
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_concurrent_requests_share_forward_passes(server):
    before = get_json(f"{server}/api/info")["requests_per_batch"]
    # A slow request first (64 long texts), so the single ones that follow queue up behind it.
    threads = [
        threading.Thread(target=post_json, args=(f"{server}/api/classify", {"texts": ["아주 긴 리뷰 " * 60] * 64}))
    ]
    answers: list[int] = []
    for text in REVIEWS * 3:
        threads.append(
            threading.Thread(target=lambda t=text: answers.append(post_json(f"{server}/api/classify", {"text": t})[0]))
        )
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [200] * len(REVIEWS) * 3
    after = get_json(f"{server}/api/info")["requests_per_batch"]
    batched = {size: count - before.get(size, 0) for size, count in after.items() if int(size) > 1}
    assert sum(batched.values()) > 0, f"no forward pass served more than one request: {after}"


def test_a_failing_batch_fails_its_requests_and_the_worker_serves_the_next(output_dir):
    tokenizer, model = load_classifier(str(output_dir), device="cpu")
    # Longer than the model's 300 positions: the forward pass itself raises, as out of memory would.
    batcher = Batcher(tokenizer, model, max_batch_size=32, batch_size=4, max_seq_length=1000, max_wait_ms=0)
    with pytest.raises((IndexError, RuntimeError)):
        batcher.submit(["가 " * 900]).result(timeout=60)
    assert batcher.submit([REVIEWS[0]]).result(timeout=60)[0]["label"] in ("negative", "positive")


def test_the_accuracy_comes_from_the_card_when_no_results_file_is_left(output_dir, tmp_path):
    model_dir = shutil.copytree(output_dir, tmp_path / "model")
    for name in ("all_results.json", "eval_results.json"):
        (model_dir / name).unlink()
    assert model_info(str(model_dir)).accuracy is None
    write_model_card(model_dir, base_model="beomi/kcbert-base", hyperparameters={}, eval_results=EVAL_RESULTS)
    assert model_info(str(model_dir)).accuracy == EVAL_RESULTS["eval_accuracy"]


def test_a_missing_model_directory_is_one_line_naming_it(tmp_path):
    missing = tmp_path / "no-such-model"
    result = run_python([NSMC_SERVE, "--model", str(missing)], dict(os.environ))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"nsmc-serve: error: {missing}: no such model directory. Pass a directory written by save_pretrained "
        "(nsmc-train's --output_dir), or a Hugging Face Hub model id such as beomi/kcbert-base"
    ]


def test_without_gradio_it_says_how_to_install_it(output_dir):
    # sys.modules[name] = None is how Python spells "not installed": the import raises ImportError.
    code = "import sys; sys.modules['gradio'] = None; from nsmc_trainer.cli import serve_main; sys.exit(serve_main())"
    result = run_python(["-c", code, "--model", str(output_dir)], dict(os.environ))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        'nsmc-serve: error: the web demo needs gradio: pip install -e ".[serve]" (or pip install gradio)'
    )


def test_the_page_classifies_a_review_in_a_real_browser(server, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install -y chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is absent: pip install -e '.[test]'")
    review = "배우들 연기가 좋았고 마지막 장면에서 울었어요"
    expected = post_json(f"{server}/api/classify", {"text": review})[1]
    requested: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 820}, locale="ko-KR")
            page.on("request", lambda request: requested.append(request.url))
            page.goto(server)
            page.wait_for_selector("#review textarea", timeout=60_000)  # the page is built by script after load
            assert "81.23%" in page.inner_text("body")  # the model's evaluation accuracy, from all_results.json
            page.fill("#review textarea", review)
            page.click("#classify")
            page.wait_for_selector("#probabilities table", timeout=30_000)
            prediction = page.inner_text("#prediction")
            table = page.inner_text("#probabilities")
            screenshot = tmp_path / "nsmc-serve.png"
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(screenshot, ARTIFACTS / screenshot.name)
    print(f"screenshot: {screenshot} (copied to {ARTIFACTS / screenshot.name})")

    assert prediction.splitlines()[1].endswith(expected["label"])  # the top line under the label's own title
    probabilities = {name: float(p) for name, p in re.findall(r"(negative|positive)\s+([01]\.\d{4})", table)}
    assert set(probabilities) == {"negative", "positive"}
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=2e-4)
    assert probabilities == pytest.approx(expected["probabilities"], abs=1e-4)
    assert max(probabilities, key=probabilities.get) == expected["label"]
    # Offline: no CDN, web font or telemetry request left this machine.
    assert [url for url in requested if not url.startswith((server, "data:", "blob:"))] == []


def test_a_space_written_and_pushed_runs_the_demo_against_the_pushed_model(hub_server, output_dir, tmp_path):
    model_id, space_id = f"{USER}/nsmc-tiny", f"{USER}/nsmc-demo"
    assert "url" in push(hub_server, tmp_path / "hf-push", output_dir, model_id, token=hub_server.token)
    env = hub_server.client_env(tmp_path / "hf-space", token=hub_server.token)
    space_dir = tmp_path / "space"
    result = run_python(
        [NSMC_SERVE, "--model", model_id, "--write_space", str(space_dir), "--push_space", space_id],
        env,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    files = hub_server.repos[f"spaces/{space_id}"].files
    assert {"app.py", "requirements.txt", "README.md", "nsmc_trainer/serve.py", "nsmc_trainer/predict.py"} <= set(files)
    assert re.search(rb"^sdk: gradio$", files["README.md"], re.MULTILINE)
    assert model_id.encode() in files["app.py"]

    # What the Space would run: its own files, on a fresh cache, reading the model from the Hub.
    checkout = tmp_path / "checkout"
    for name, data in files.items():
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_bytes(data)
    port = free_port()
    env = hub_server.client_env(tmp_path / "hf-run", PYTHONPATH="", GRADIO_SERVER_PORT=str(port))
    which = subprocess.run(
        [sys.executable, "-c", "import nsmc_trainer.serve as s; print(s.__file__)"],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert which.stdout.strip() == str(checkout / "nsmc_trainer" / "serve.py"), which.stderr[-2000:]
    process, url = start_server([sys.executable, "app.py"], env, checkout, tmp_path / "space.log", port)
    try:
        status, answer = post_json(f"{url}/api/classify", {"text": REVIEWS[0]})
        info = get_json(f"{url}/api/info")
    finally:
        stop(process)
    assert status == 200 and answer["label"] in ("negative", "positive")
    assert info["model"] == model_id and info["eval_accuracy"] == EVAL_RESULTS["eval_accuracy"]
