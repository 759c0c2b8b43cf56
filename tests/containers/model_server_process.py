"""Run the model server the way the image does (serve.py -> gunicorn), and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVE_SCRIPT = REPO_ROOT / "containers" / "inference" / "serve.py"
STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningServer:
    """A gunicorn model server subprocess and where to reach it."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def start_server(
    model_dir: Path,
    log_path: Path,
    workers: int = 2,
    *,
    as_module: bool = False,
    extra_args: tuple[str, ...] = (),
    **env: str,
) -> RunningServer:
    """Start serve.py on a free port and wait until /ping answers 200 (or fail with its log).

    `as_module` starts it as `python -m containers.inference.serve` from the repository root, the
    way `make serve-model` does; otherwise as the image's ENTRYPOINT runs it, by file path.
    """
    port = free_port()
    entry = ["-m", "containers.inference.serve"] if as_module else [str(SERVE_SCRIPT)]
    command = [
        sys.executable,
        *entry,
        "serve",
        "--model-dir",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        *extra_args,
    ]
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        command,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
        cwd=REPO_ROOT,
    )
    log_file.close()
    server = RunningServer(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"model server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/ping", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    server.stop()
    pytest.fail(f"model server not ready in {STARTUP_SECONDS}s:\n{log_path.read_text()}")


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: dict


def http_request(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    content_type: str | None = "application/json",
    timeout: float = 10.0,
) -> HttpAnswer:
    """One HTTP exchange; 4xx/5xx are answers to inspect, not exceptions."""
    headers = {"Content-Type": content_type} if content_type and body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, dict(response.headers), json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, dict(error.headers), json.loads(error.read()))
