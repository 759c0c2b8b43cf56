"""Fixtures for the Lambda handlers: real boto3 against a moto server on loopback, and the real
model server (the image's WSGI app) on a model trained once per test process.

The handlers create their boto3 clients on first use and boto3 reads AWS_ENDPOINT_URL itself, so
pointing the environment at moto is all it takes: no patching of the code under test.
"""

from __future__ import annotations

import json
import logging
import socketserver
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import boto3
import pytest
from moto.server import ThreadedMotoServer

from containers.inference import train
from containers.inference.server.app import create_app
from lambdas import contract

# The batch stack's resources (its functions' tests).
from tests.lambdas.batch_resources import batch_resources  # noqa: F401  (fixture)

# The access gate: every AWS call the handlers make is recorded and must be in tools/access_check/manifests/.
from tools.access_check.pytest_plugin import aws_call_recorder, record_aws_calls  # noqa: F401  (fixtures)

REGION = "us-east-1"


# --- AWS emulator ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server per test process, on a free loopback port."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per emulated call is noise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_environment(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test starts from an empty emulator, with fake credentials that cannot reach AWS."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"),
        timeout=10,
    ).close()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    return moto_endpoint


# --- model server ------------------------------------------------------------------------------


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class ModelServer:
    """The image's WSGI app on a loopback port; `invocations` counts POST /invocations calls."""

    url: str
    invocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    model_dir = train.write_model_dir(tmp_path_factory.mktemp("model"))
    app = create_app(model_dir)
    state = ModelServer(url="")

    def counting_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/invocations":
            with state.lock:
                state.invocations += 1
        return app(environ, start_response)

    server = make_server(
        "127.0.0.1",
        0,
        counting_app,
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_model(model_server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> ModelServer:
    """Handlers call the model server over HTTP, as they call the Fargate service."""
    monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
    monkeypatch.setenv(contract.MODEL_URL, model_server.url)
    return model_server


@pytest.fixture
def unreachable_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model URL where nothing listens: every call fails as a transient outage."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
    monkeypatch.setenv(contract.MODEL_URL, f"http://127.0.0.1:{port}")


@pytest.fixture
def sagemaker_model(aws_environment: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Handlers call the SageMaker endpoint named in ENDPOINT_NAME, which moto answers with the returned body: a
    canned answer (moto runs no model), so a test can check the endpoint's answer is passed on whole."""
    answer = {"predictions": [{"label": "setosa", "probabilities": {}}], "model_version": "sm-1"}
    configure = urllib.request.Request(
        f"{aws_environment}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"results": [{"Body": json.dumps(answer)}]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(configure, timeout=10).close()
    monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_SAGEMAKER)
    monkeypatch.setenv(contract.ENDPOINT_NAME, "iris-endpoint")
    return answer


# --- pipeline resources ------------------------------------------------------------------------


@dataclass
class Pipeline:
    """The resources the functions use, made in moto the way the messaging stack makes them."""

    s3: Any
    sns: Any
    sqs: Any
    bucket: str
    requests_topic: str
    results_topic: str
    work_queue: str
    dead_letter_queue: str
    notifications_queue: str

    def receive(self, queue_url: str, max_messages: int = 10) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max_messages,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])

    def count(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def read_json(self, key: str) -> dict[str, Any]:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]


def make_queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@pytest.fixture
def pipeline(aws_environment: str, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """Bucket, requests topic -> filtered raw subscription -> work queue (+ DLQ after 2 receives),
    results topic -> raw subscription -> a queue that observes notifications."""
    s3, sns, sqs = (boto3.client(name) for name in ("s3", "sns", "sqs"))
    suffix = uuid.uuid4().hex[:8]
    bucket = f"results-{suffix}"
    s3.create_bucket(Bucket=bucket)

    dlq_url, dlq_arn = make_queue(sqs, f"work-dlq-{suffix}")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    work_url, work_arn = make_queue(sqs, f"work-{suffix}", RedrivePolicy=redrive, VisibilityTimeout="0")
    requests_topic = sns.create_topic(Name=f"requests-{suffix}")["TopicArn"]
    sns.subscribe(
        TopicArn=requests_topic,
        Protocol="sqs",
        Endpoint=work_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({contract.ATTR_MODEL: ["iris"]}),
        },
        ReturnSubscriptionArn=True,
    )

    notifications_url, notifications_arn = make_queue(sqs, f"notifications-{suffix}")
    results_topic = sns.create_topic(Name=f"results-{suffix}")["TopicArn"]
    sns.subscribe(
        TopicArn=results_topic,
        Protocol="sqs",
        Endpoint=notifications_arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    monkeypatch.setenv(contract.RESULTS_BUCKET, bucket)
    monkeypatch.setenv(contract.REQUESTS_TOPIC_ARN, requests_topic)
    monkeypatch.setenv(contract.RESULTS_TOPIC_ARN, results_topic)
    monkeypatch.setenv(contract.QUEUE_URL, work_url)
    return Pipeline(
        s3=s3,
        sns=sns,
        sqs=sqs,
        bucket=bucket,
        requests_topic=requests_topic,
        results_topic=results_topic,
        work_queue=work_url,
        dead_letter_queue=dlq_url,
        notifications_queue=notifications_url,
    )
