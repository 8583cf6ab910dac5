"""Load on nsmc-serve's JSON API: N concurrent clients, batching on and off, side by side.

    python bench/serve.py [--clients 1 8 32] [--requests 128] [--models tiny base]

For each model, two servers run at once on 127.0.0.1: `--max_batch_size 32` (batching on) and
`--max_batch_size 1` (one text per forward pass, the book's one-at-a-time server). For each number
of clients, `--requests` requests of one NSMC review each are split among the clients, which send
theirs one after another over a kept-alive connection; the two servers are measured alternately so
that any load on the machine slows both alike. Figures: requests/s (all requests over the wall
time), p50/p95 latency, failed requests, and the mean number of requests per gathered batch.

Models: `tiny` is ../shared/models/bert-tiny-kcbert with a 2-label head; `base` a randomly
initialised BERT of kcbert-base's shape (12 layers, hidden 768) with the real kcbert tokenizer.
Both are saved under out-bench/ first. Only 127.0.0.1 is ever contacted. Prints one JSON line.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import KCBERT_TOKENIZER, OUTPUT_ROOT, SHARED, TINY_MODEL, emit, machine

REVIEWS_FILE = SHARED / "data" / "nsmc-mini" / "ratings_test.txt"
ID2LABEL = {0: "negative", 1: "positive"}
MODES = {"batching_off": 1, "batching_on": 32}
REQUEST_TIMEOUT_S = 120


def save_model(name: str) -> Path:
    """out-bench/serve-<name>: a 2-label classifier the server loads like a trained one."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    path = OUTPUT_ROOT / f"serve-{name}"
    if (path / "model.safetensors").is_file():
        return path
    labels = {"num_labels": 2, "id2label": ID2LABEL, "label2id": {v: k for k, v in ID2LABEL.items()}}
    torch.manual_seed(7)
    if name == "tiny":
        model = BertForSequenceClassification.from_pretrained(TINY_MODEL, **labels)
        tokenizer_dir = TINY_MODEL
    else:
        vocab_size = json.loads((KCBERT_TOKENIZER / "config.json").read_text())["vocab_size"]
        config = BertConfig(
            vocab_size=vocab_size,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            max_position_embeddings=300,
            **labels,
        )
        model = BertForSequenceClassification(config)
        tokenizer_dir = KCBERT_TOKENIZER
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(path)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_dir: Path, max_batch_size: int, threads: int | None, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    args = [str(Path(sys.executable).with_name("nsmc-serve")), "--model", str(model_dir), "--port", str(port)]
    # NO_PROXY: gradio checks its own URL through httpx, which would send it to a configured proxy.
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    with log.open("w") as out:
        process = subprocess.Popen([*args, "--max_batch_size", str(max_batch_size)], env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}; see {log}")
        try:
            info(port)
            return process, port
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"the server did not start within 180 s; see {log}")


def info(port: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/api/info")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def client(port: int, texts: list[str], latencies: list[float], failures: list[str]) -> None:
    """Sends one request per text, one after another, on one kept-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        for text in texts:
            body = json.dumps({"text": text}, ensure_ascii=False).encode()
            start = time.perf_counter()
            try:
                connection.request("POST", "/api/classify", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = json.loads(response.read())
            except (OSError, http.client.HTTPException, ValueError) as err:
                failures.append(f"{type(err).__name__}: {err}")
                connection.close()
                continue
            if response.status != 200 or "label" not in answer:
                failures.append(f"HTTP {response.status}: {answer}")
                continue
            latencies.append(time.perf_counter() - start)
    finally:
        connection.close()


def load(port: int, reviews: list[str], clients: int, requests: int) -> dict:
    """`requests` requests split among `clients` concurrent clients; throughput and latency."""
    per_client = max(1, requests // clients)
    latencies: list[float] = []
    failures: list[str] = []
    threads = [
        threading.Thread(
            target=client,
            args=(port, [reviews[(c * per_client + i) % len(reviews)] for i in range(per_client)], latencies, failures),
        )
        for c in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "requests": clients * per_client,
        "failed": len(failures),
        "first_failure": failures[0] if failures else None,
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
    }


def mean_batch(before: dict[str, int], after: dict[str, int]) -> float | None:
    """Mean requests per gathered batch between two /api/info counts {requests in a batch: batches}."""
    counts = {int(size): count - before.get(size, 0) for size, count in after.items()}
    batches = sum(counts.values())
    return round(sum(size * count for size, count in counts.items()) / batches, 2) if batches else None


def read_reviews() -> list[str]:
    lines = REVIEWS_FILE.read_text(encoding="utf-8").splitlines()[1:]
    return [document for _, document, _ in (line.split("\t") for line in lines) if document.strip()]


def bench_model(name: str, reviews: list[str], clients: list[int], requests: int, threads: int | None) -> dict:
    model_dir = save_model(name)
    servers = {
        mode: start_server(model_dir, size, threads, OUTPUT_ROOT / f"serve-{name}-{mode}.log")
        for mode, size in MODES.items()
    }
    try:
        for _, port in servers.values():  # warm up: first calls allocate and pick kernels
            load(port, reviews, 4, 16)
        rows: dict[str, dict] = {}
        for n in clients:
            for mode, (_, port) in servers.items():
                before = info(port)["requests_per_batch"]
                row = load(port, reviews, n, requests)
                row["requests_per_batch"] = mean_batch(before, info(port)["requests_per_batch"])
                rows[f"{mode}_{n}_clients"] = row
                print(f"{name} {mode} {n:>2} clients: {row}", file=sys.stderr, flush=True)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    speedups = {
        n: round(
            rows[f"batching_on_{n}_clients"]["requests_per_s"] / rows[f"batching_off_{n}_clients"]["requests_per_s"], 2
        )
        for n in clients
    }
    return {
        "model_dir": str(model_dir),
        "results": rows,
        "speedup_batching_on_over_off": speedups,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=128, help="Requests per number of clients and server.")
    parser.add_argument("--models", nargs="+", choices=("tiny", "base"), default=["tiny", "base"])
    parser.add_argument(
        "--torch_threads",
        type=int,
        default=None,
        help="OMP_NUM_THREADS of the servers (default: torch's choice). On a shared, busy machine 1 "
        "avoids threads spinning against other processes.",
    )
    args = parser.parse_args()
    OUTPUT_ROOT.mkdir(exist_ok=True)
    reviews = read_reviews()
    result = {"benchmark": "serve", **machine(), "requests": args.requests, "clients": args.clients}
    result["torch_threads"] = args.torch_threads
    for name in args.models:
        result[name] = bench_model(name, reviews, args.clients, args.requests, args.torch_threads)
    result.update(machine())  # the load average at the end, after the benchmark's own load
    emit(result)


if __name__ == "__main__":
    main()
