"""The pipeline on the local emulator: the deployed resources are real (moto), the code runs here.

Why in this process: the emulator cannot run Lambda functions or containers (moto needs Docker for them, which
these machines lack). So the CLI does what API Gateway, Lambda's event source mapping and the model container
would do, with the deployed configuration:
- `LocalApi` answers the API's routes with the handler code (`lambdas/<function>/handler.py`), under exactly the
  environment variables the compute stack set on the deployed function (read from its state), pointed at the
  emulator; API Gateway's payload 2.0 event and a Lambda context with the function's timeout;
- `LocalWorker` stands in for whatever consumes each work queue on AWS (the worker function's event source
  mapping, or the queue worker service): it receives a batch, runs the job code, and deletes what succeeded;
  what failed stays in the queue and comes back, until `maxReceiveCount` moves it to the dead-letter queue;
- `LocalModel` is the model container: `--model-url`, else the server `make serve-model` runs on 127.0.0.1:8080,
  else one started for this command (the image's own server, trained on first use).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from tools.api_client import ApiClient, ApiResponse
from tools.lambda_events import api_event, sqs_event
from tools.pipeline.deployment import Deployment, DeploymentError, Runtime, WorkQueue
from tools.terraform_cli import BUILD_DIR

SERVE_MODEL_URL = "http://127.0.0.1:8080"  # where `make serve-model` listens
HANDLER_LOG = BUILD_DIR / "pipeline" / "handlers.log"
# The emulator accepts any credentials; real ones never leave this process for it.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
HIDDEN_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE")
# A failed job comes back after the queue's visibility timeout (180 s by default): here it comes back after this
# many seconds, so a failing job reaches its dead-letter queue in seconds, not a quarter of an hour.
LOCAL_VISIBILITY_TIMEOUT_SECONDS = 2

Say = Callable[[str], None]


class LambdaContext:
    """The part of Lambda's context object the handlers read: the time left, from the function's timeout."""

    def __init__(self, runtime: Runtime) -> None:
        self.function_name = runtime.name
        self.aws_request_id = str(uuid.uuid4())
        self._ends = time.monotonic() + (runtime.timeout_seconds or 900)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


def _clear_cached_clients() -> None:
    """Forget every boto3 client the handler code cached (`functools.cache`), so the next call reads the
    environment of the function about to run."""
    for name, module in list(sys.modules.items()):
        if name == "lambdas" or name.startswith("lambdas."):
            for value in list(vars(module).values()):
                if callable(value) and hasattr(value, "cache_clear"):
                    value.cache_clear()


@contextlib.contextmanager
def runtime_environment(
    runtime: Runtime, deployment: Deployment, overrides: dict[str, str], log: Path | None = HANDLER_LOG
) -> Iterator[None]:
    """RUNTIME's deployed environment variables (plus OVERRIDES) and the emulator's endpoint for the duration;
    the handlers' JSON log lines go to LOG (None: stderr) instead of the CLI's output."""
    values = {
        **runtime.environment,
        **overrides,
        **EMULATOR_CREDENTIALS,
        "AWS_ENDPOINT_URL": str(deployment.emulator_url),
        "AWS_REGION": deployment.region,
        "AWS_DEFAULT_REGION": deployment.region,
    }
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    sink = log.open("a") if log is not None else contextlib.nullcontext(sys.stderr)
    # patch.dict restores the whole environment afterwards, the hidden variables included.
    with mock.patch.dict(os.environ, values), sink as out, contextlib.redirect_stdout(out):
        for name in HIDDEN_VARIABLES:
            os.environ.pop(name, None)
        _clear_cached_clients()
        try:
            yield
        finally:
            _clear_cached_clients()


def _route_pattern(route: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route)) + "$")


# --- the model ------------------------------------------------------------------------------------------------


@dataclass
class LocalModel:
    """The model container's stand-in: a given URL, `make serve-model`'s server, or one started on demand."""

    url: str | None = None
    say: Say = print
    _server: Any = field(default=None, repr=False)

    def ensure(self) -> str:
        if self.url:
            return self.url
        if _pings(SERVE_MODEL_URL):
            self.url = SERVE_MODEL_URL
            return self.url
        from tools.local.smoke import ModelServer

        began = time.monotonic()
        self._server = ModelServer.start()
        self.url = self._server.url
        self.say(
            f"model server (containers/inference) started for this command at {self.url} in "
            f"{time.monotonic() - began:.1f} s (`make serve-model` keeps one on {SERVE_MODEL_URL})"
        )
        return self.url

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def _pings(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --- the API --------------------------------------------------------------------------------------------------


@dataclass
class LocalApi:
    """The API's routes, answered by the deployed functions' code in this process."""

    deployment: Deployment
    routes: dict[tuple[str, str], str]  # (method, route) -> folder in lambdas/ (ApiConfig.lambda_routes())
    model: LocalModel
    log: Path | None = HANDLER_LOG

    def runtime(self, folder: str) -> Runtime:
        name = self.deployment.output(f"function_name_{folder}")
        runtime = self.deployment.runtimes.get(name)
        if runtime is None:
            raise DeploymentError(f"function {name} is not in the compute stack's state; run `make deploy-local`")
        return runtime

    def request(self, method: str, path: str, body: Any = None) -> ApiResponse:
        for (route_method, route), folder in self.routes.items():
            match = _route_pattern(route).match(path)
            if route_method == method and match:
                return self._invoke(
                    folder, api_event(method, path, body, route=route, path_parameters=match.groupdict() or None)
                )
        if (method, path) == ("POST", "/v1/predict"):  # predict_backend = "fargate": the VPC link to the model
            return ApiClient(self.model.ensure(), "none", self.deployment.region).request("POST", "/invocations", body)
        return ApiResponse(status=404, body={"message": "Not Found"}, headers={})

    def _invoke(self, folder: str, event: dict[str, Any]) -> ApiResponse:
        runtime = self.runtime(folder)
        overrides = {"MODEL_BACKEND": "http", "MODEL_URL": self.model.ensure()} if folder == "predict" else {}
        handler = importlib.import_module(f"lambdas.{folder}.handler").handler
        with runtime_environment(runtime, self.deployment, overrides, self.log):
            answer = handler(event, LambdaContext(runtime))
        raw = answer.get("body") or ""
        return ApiResponse(
            status=int(answer["statusCode"]), body=json.loads(raw) if raw else None, headers=answer.get("headers", {})
        )

    def describe(self) -> str:
        return f"the handlers in this process, on the emulator at {self.deployment.emulator_url}"


# --- the queue consumers --------------------------------------------------------------------------------------


@dataclass
class WorkReport:
    """What one pass over the work queues did."""

    received: int = 0
    succeeded: int = 0
    failed: int = 0
    unconsumed: list[str] = field(default_factory=list)  # queues nothing consumes on AWS either


@dataclass
class LocalWorker:
    """Receives from each work queue as its consumer on AWS would, and runs the job code on the batch."""

    deployment: Deployment
    model: LocalModel
    visibility_timeout: int = LOCAL_VISIBILITY_TIMEOUT_SECONDS
    log: Path | None = HANDLER_LOG
    _sqs: Any = field(default=None, repr=False)
    _arns: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = emulator_client(self.deployment, "sqs")
        return self._sqs

    def run_once(self, wait_seconds: int = 0) -> WorkReport:
        """One receive per work queue (up to its consumer's batch size), the job code on what arrived."""
        report = WorkReport()
        for queue in self.deployment.queues:
            consumer = self.deployment.consumer(queue)
            if consumer is None:
                report.unconsumed.append(queue.name)
                continue
            messages = self.sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=min(consumer.batch_size, 10),
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=self.visibility_timeout,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if messages:
                self._process(queue, consumer, messages, report)
        return report

    def _process(self, queue: WorkQueue, consumer: Runtime, messages: list[dict[str, Any]], report: WorkReport) -> None:
        from lambdas.worker import handler as worker

        event = sqs_event(messages, self._arn(queue), self.deployment.region)
        context = LambdaContext(consumer) if consumer.kind == "function" else None  # a service has no deadline
        overrides = {"MODEL_BACKEND": "http", "MODEL_URL": self.model.ensure()}
        with runtime_environment(consumer, self.deployment, overrides, self.log):
            outcome = worker.handler(event, context)
        failed = {item["itemIdentifier"] for item in outcome.get("batchItemFailures", [])}
        for message in messages:  # what the event source mapping does with a partial batch response
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
        report.received += len(messages)
        report.failed += len(failed)
        report.succeeded += len(messages) - len(failed)

    def _arn(self, queue: WorkQueue) -> str:
        if queue.url not in self._arns:
            self._arns[queue.url] = self.sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        return self._arns[queue.url]


def emulator_client(deployment: Deployment, service: str) -> Any:
    """A boto3 client on the emulator of DEPLOYMENT, with the emulator's placeholder credentials."""
    import boto3

    session = boto3.session.Session(
        region_name=deployment.region,
        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return session.client(service, endpoint_url=deployment.emulator_url)
