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
from urllib.parse import urlsplit

import pytest

from tools.local.smoke import serve_arguments

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
        *serve_arguments(model_dir, port, workers),
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


def worker_pids(server: RunningServer) -> set[int]:
    """The gunicorn workers: children of the master, which serve.py became (exec keeps the pid)."""
    found = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout
    return {int(pid) for pid in found.split()}


def wait_for_workers(server: RunningServer, count: int, timeout: float = STARTUP_SECONDS) -> set[int]:
    """Wait until `count` workers have loaded the model (each logs "model loaded" once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        loaded = sum('"model loaded"' in line for line in server.log_lines())
        pids = worker_pids(server)
        if loaded >= count and len(pids) == count:
            return pids
        time.sleep(0.1)
    pytest.fail(f"{count} workers not ready in {timeout}s:\n{server.log_path.read_text()}")


def connection_owners(server: RunningServer, client_ports: list[int]) -> list[int]:
    """For each client port, the pid of the worker holding the server side of that connection.

    /proc/net/tcp maps the server-side socket (local port = the server's, remote port = the client's) to an
    inode; the worker whose file descriptors include that socket holds the connection.
    """
    server_port = urlsplit(server.url).port
    inodes: dict[int, str] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == server_port and remote_port in client_ports and fields[3] == "01":  # ESTABLISHED
            inodes[remote_port] = fields[9]
    holders: dict[str, int] = {}
    for pid in worker_pids(server):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                holders[target[len("socket:[") : -1]] = pid
    return [holders.get(inodes.get(port, ""), 0) for port in client_ports]
