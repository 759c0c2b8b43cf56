"""Model server throughput and latency, measured (never asserted) on this machine.

Starts the server the way the image does (serve.py -> gunicorn) on a free loopback port with the
example model trained into a temporary directory, or drives an already running one (--url, loopback
only). Threads with keep-alive connections send POST /invocations until --requests are done or
--duration seconds pass, whichever comes first; then throughput and latency percentiles are printed.

usage: python benchmarks/model_server.py [--url http://127.0.0.1:8080] [--requests 2000]
                                         [--duration 20] [--concurrency 8] [--batch 1] [--workers N]
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVE_SCRIPT = REPO_ROOT / "containers" / "inference" / "serve.py"
IRIS_ROWS = ([5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5])
WARMUP_REQUESTS = 20


@dataclass
class Tally:
    """Shared between driver threads: the request budget and what each request measured."""

    budget: int
    deadline: float
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self.lock:
            if self.budget <= 0 or time.monotonic() >= self.deadline:
                return False
            self.budget -= 1
            return True

    def record(self, seconds: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.latencies.append(seconds)
            else:
                self.errors[error] = self.errors.get(error, 0) + 1


def require_loopback(url: str) -> tuple[str, int]:
    """Benchmarks here only ever target this machine."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    is_loopback = host == "localhost"
    try:
        is_loopback = is_loopback or ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if parts.scheme != "http" or not is_loopback:
        sys.exit(f"refusing {url!r}: only http:// on a loopback address (127.0.0.0/8, ::1, localhost)")
    return host, parts.port or 80


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen[bytes] | None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            sys.exit(f"model server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"model server at {url} not ready after {timeout:.0f}s")


@contextmanager
def local_server(workers: int | None) -> Iterator[str]:
    """Train the example model into a temp dir and run serve.py on it; SIGTERM on the way out."""
    with tempfile.TemporaryDirectory(prefix="bench-model-") as scratch:
        port = free_port()
        command = [sys.executable, str(SERVE_SCRIPT), "serve", "--train-if-missing"]
        command += [
            "--model-dir",
            str(Path(scratch) / "model"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        if workers:
            command += ["--workers", str(workers)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(url, process)
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def drive(host: str, port: int, body: bytes, tally: Tally) -> None:
    """One client thread: a keep-alive connection, reopened after any error."""
    connection: http.client.HTTPConnection | None = None
    headers = {"Content-Type": "application/json"}
    while tally.take():
        started = time.perf_counter()
        try:
            connection = connection or http.client.HTTPConnection(host, port, timeout=30)
            connection.request("POST", "/invocations", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            error = None if response.status == 200 else f"HTTP {response.status}"
        except (OSError, http.client.HTTPException) as failure:
            error = type(failure).__name__
            if connection is not None:
                connection.close()
            connection = None
        tally.record(time.perf_counter() - started, error)
    if connection is not None:
        connection.close()


def run(url: str, *, requests: int, duration: float, concurrency: int, batch: int) -> Tally:
    host, port = require_loopback(url)
    rows = [IRIS_ROWS[i % len(IRIS_ROWS)] for i in range(batch)]
    body = json.dumps({"instances": rows}).encode()
    warmup = Tally(budget=WARMUP_REQUESTS, deadline=time.monotonic() + 30)
    drive(host, port, body, warmup)
    tally = Tally(budget=requests, deadline=time.monotonic() + duration)
    threads = [threading.Thread(target=drive, args=(host, port, body, tally)) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.elapsed = time.perf_counter() - started
    return tally


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def report(tally: Tally, *, concurrency: int, batch: int) -> str:
    elapsed = tally.elapsed
    done = len(tally.latencies)
    lines = [
        f"model server benchmark: {concurrency} threads, {batch} row(s) per request, {os.cpu_count()} CPUs",
        f"  requests ok     {done}   errors {sum(tally.errors.values())} {tally.errors or ''}".rstrip(),
        f"  elapsed         {elapsed:.2f} s",
    ]
    if done:
        latencies_ms = sorted(seconds * 1000 for seconds in tally.latencies)
        lines += [
            f"  throughput      {done / elapsed:,.0f} requests/s   {done * batch / elapsed:,.0f} rows/s",
            f"  latency p50     {percentile(latencies_ms, 0.50):.2f} ms",
            f"  latency p99     {percentile(latencies_ms, 0.99):.2f} ms",
            f"  latency mean    {statistics.fmean(latencies_ms):.2f} ms   max {latencies_ms[-1]:.2f} ms",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server on loopback; default: start one")
    parser.add_argument("--requests", type=int, default=2000, help="stop after this many requests")
    parser.add_argument("--duration", type=float, default=20.0, help="or after this many seconds")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--batch", type=int, default=1, help="rows per request")
    parser.add_argument("--workers", type=int, help="gunicorn workers of a started server")
    args = parser.parse_args(argv)
    if args.url:
        url = args.url.rstrip("/")
        require_loopback(url)
        wait_until_ready(url, None, timeout=10)
        server = nullcontext(url)
    else:
        server = local_server(args.workers)
    with server as url:
        tally = run(
            url,
            requests=args.requests,
            duration=args.duration,
            concurrency=args.concurrency,
            batch=args.batch,
        )
    print(report(tally, concurrency=args.concurrency, batch=args.batch))


if __name__ == "__main__":
    main()
