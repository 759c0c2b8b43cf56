"""Fixtures for the inference image: a model trained once per test process, and a real gunicorn.

The server runs exactly as in the image (serve.py -> gunicorn -> WSGI app), as a subprocess on a
free loopback port, so pytest-xdist workers never collide.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from containers.inference import train
from tests.containers.model_server_process import RunningServer, start_server


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example model, trained into a temporary directory once per test process (< 1 s)."""
    return train.write_model_dir(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def model_metadata(model_dir: Path) -> dict:
    return json.loads((model_dir / train.METADATA_FILE).read_text())


@pytest.fixture(scope="session")
def model_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One gunicorn shared by the read-only HTTP tests of a test process."""
    log_path = tmp_path_factory.mktemp("server-log") / "server.log"
    server = start_server(model_dir, log_path, MAX_PAYLOAD_BYTES=str(64 * 1024))
    yield server
    server.stop()


@pytest.fixture
def start_model_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """`start_model_server(model_dir, workers=1, as_module=..., extra_args=..., **env)` -> a RunningServer,
    killed after the test if it is still running."""
    started: list[RunningServer] = []

    def start(model_dir: Path, workers: int = 1, **env: str) -> RunningServer:
        server = start_server(model_dir, tmp_path / f"server-{len(started)}.log", workers, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)
