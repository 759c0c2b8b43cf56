"""Fixtures for the queue consumer of the inference image: the emulator, the pipeline's resources, the model
server and the SageMaker endpoint's canned answer of tests/lambdas (the consumer runs the same job library as the
worker function), a fake ECS agent, and a consumer with test-sized timings.

The access gate records the consumer's AWS calls here, as it does for the Lambda handlers: they are the
queue-worker manifest (tools/access_check/manifests/queue-worker.json).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from containers.inference.queue_worker import consumer as consumer_module
from containers.inference.queue_worker.consumer import Consumer, Settings
from containers.inference.queue_worker.task_protection import TaskProtection
from tests.lambdas.conftest import (  # noqa: F401  (fixtures)
    aws_environment,
    http_model,
    model_server,
    moto_endpoint,
    pipeline,
    sagemaker_model,
    unreachable_model,
)
from tools.access_check.pytest_plugin import aws_call_recorder, record_aws_calls  # noqa: F401  (fixtures)


@dataclass
class FakeAgent:
    """The ECS agent's task-protection endpoint on loopback: records each PUT body, answers as the agent does."""

    url: str = ""
    states: list[dict] = field(default_factory=list)
    answer: dict = field(default_factory=lambda: {"protection": {"ProtectionEnabled": True}})


@pytest.fixture
def fake_agent() -> Iterator[FakeAgent]:
    agent = FakeAgent()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/task-protection/v1/state":
                agent.states.append(json.loads(body))
            answer = json.dumps(agent.answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    agent.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield agent
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_consumer(pipeline, tmp_path: Path, fake_agent: FakeAgent) -> Callable[..., Consumer]:  # noqa: F811
    """`make_consumer(**settings)`: a consumer of the pipeline's work queue with second-sized timings, protected
    through the fake agent, its health file in the test's folder."""
    consumer_module.sqs.cache_clear()  # clients are per endpoint: each test's emulator environment is fresh

    def make(**overrides) -> Consumer:
        settings = Settings(
            **{
                "queue_url": pipeline.work_queue,
                "batch_size": 2,
                "wait_seconds": 1,
                "lease_seconds": 3,
                "heartbeat_seconds": 0.3,
                "retry_base_seconds": 0,
                "retry_max_seconds": 0,
                "health_file": tmp_path / "health",
                **overrides,
            }
        )
        return Consumer(settings, TaskProtection(fake_agent.url, settings.protection_minutes, consumer_module.log))

    return make


def run_until(consumer: Consumer, done: Callable[[], bool], timeout: float = 30.0) -> float:
    """Run CONSUMER in this (main) thread until DONE() holds, then stop it as SIGTERM would; the seconds it ran.

    DONE() must hold BEFORE the stop: it is recorded then, not after `run()` returned, because the stop's own
    clean-up (finishing jobs, releasing the task protection) could make it true and hide a consumer that never got
    there by itself. A condition not met within TIMEOUT fails the test."""
    began = time.monotonic()
    met = threading.Event()
    returned = threading.Event()

    def watch() -> None:
        while not returned.is_set() and time.monotonic() - began < timeout:
            if done():
                met.set()
                break
            time.sleep(0.05)
        consumer.stop()

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert consumer.run() == 0
    finally:
        returned.set()
    assert met.is_set(), f"not done within {timeout} s (checked before the consumer was stopped)"
    return time.monotonic() - began
