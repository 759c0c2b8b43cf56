"""A local deployment in miniature for the CLI tests: the messaging and storage resources of a deployed `local`
environment, created with boto3 on a moto server, and the Terraform state files and synth folder that
`make deploy-local` would leave behind (outputs, the compute stack's functions and queue worker task definition).

Why not a real deploy: that takes minutes (the e2e step does it, and runs the README's examples against it); these
tests need the CLI's behaviour against the same shapes in seconds. The names and state layout are the real ones.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lambdas import contract
from modules.config import load_config
from tests.conftest import PROJECT_ROOT
from tools.pipeline.deployment import DEPLOYMENT_ENV

REGION = "eu-west-1"
PREFIX = "inference-local"
MAX_RECEIVE_COUNT = 5


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass(frozen=True)
class FakeDeployment:
    """What the tests need to reach: the emulator, the record the CLI reads, and the deployed names."""

    emulator_url: str
    record: Path
    outputs: dict[str, dict[str, str]]

    def client(self, service: str):
        return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                     region_name=REGION).client(service, endpoint_url=self.emulator_url)

    def output(self, name: str) -> str:
        return next(values[name] for values in self.outputs.values() if name in values)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _create_resources(session: boto3.session.Session, url: str) -> dict[str, dict[str, str]]:
    s3, sns, sqs = (session.client(name, endpoint_url=url) for name in ("s3", "sns", "sqs"))
    bucket = f"{PREFIX}-results"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    requests = sns.create_topic(Name=f"{PREFIX}-requests")["TopicArn"]
    results = sns.create_topic(Name=f"{PREFIX}-results")["TopicArn"]
    messaging = {"requests_topic_arn": requests, "results_topic_arn": results}
    config = load_config(PROJECT_ROOT / "config" / "local.toml")
    for queue in config.messaging.queues:
        dlq_url = sqs.create_queue(QueueName=f"{PREFIX}-{queue.name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_url = sqs.create_queue(QueueName=f"{PREFIX}-{queue.name}", Attributes={
            "VisibilityTimeout": str(queue.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})})["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=requests, Protocol="sqs", Endpoint=queue_arn, Attributes={
            "RawMessageDelivery": "true", "FilterPolicy": json.dumps({k: list(v) for k, v in queue.filter.items()})})
        messaging[f"queue_url_{queue.name}"] = queue_url
        messaging[f"dead_letter_queue_url_{queue.name}"] = dlq_url
        messaging[f"queue_arn_{queue.name}"] = queue_arn
    return {"storage": {"results_bucket_name": bucket}, "messaging": messaging}


def _compute_state(outputs: dict[str, dict[str, str]]) -> tuple[dict, dict[str, str]]:
    """The compute stack's state as Terraform writes it: the functions, the worker's event source mapping on the
    priority queue, and the queue worker's task definition on the default queue (local.toml's split)."""
    storage, messaging = outputs["storage"], outputs["messaging"]
    common = {contract.RESULTS_BUCKET: storage["results_bucket_name"], contract.LOG_LEVEL: "INFO"}
    model = {contract.MODEL_BACKEND: contract.BACKEND_HTTP, contract.MODEL_URL: "http://internal-alb.invalid",
             contract.MODEL_TIMEOUT_SECONDS: "10"}
    functions = {
        "submit": ({**common, contract.REQUESTS_TOPIC_ARN: messaging["requests_topic_arn"],
                    contract.MAX_PAYLOAD_BYTES: "4000000"}, 25),
        "status": (common, 25),
        "predict": ({**common, **model, contract.MAX_PAYLOAD_BYTES: "4000000"}, 25),
        "worker": ({**common, **model, contract.RESULTS_TOPIC_ARN: messaging["results_topic_arn"],
                    contract.QUEUE_URL: messaging["queue_url_priority"], contract.MAX_PAYLOAD_BYTES: "4000000"}, 30),
    }
    resources = [{"mode": "managed", "type": "aws_lambda_function", "name": folder, "instances": [{"attributes": {
        "function_name": f"{PREFIX}-{folder}", "arn": f"arn:aws:lambda:{REGION}:123456789012:function:{PREFIX}-{folder}",
        "timeout": timeout, "environment": [{"variables": variables}]}}]}
        for folder, (variables, timeout) in functions.items()]
    resources.append({"mode": "managed", "type": "aws_lambda_event_source_mapping", "name": "worker-priority",
                      "instances": [{"attributes": {"function_name": f"arn:aws:lambda:{REGION}:123456789012:function:"
                                                                     f"{PREFIX}-worker",
                                                    "event_source_arn": messaging["queue_arn_priority"],
                                                    "batch_size": 2}}]})
    container = [{"name": "queue-worker", "environment": [
        {"name": name, "value": value} for name, value in {
            **common, **model, contract.RESULTS_TOPIC_ARN: messaging["results_topic_arn"],
            contract.QUEUE_URL: messaging["queue_url_default"], contract.MAX_PAYLOAD_BYTES: "4000000"}.items()]}]
    resources.append({"mode": "managed", "type": "aws_ecs_task_definition", "name": "queue-worker", "instances": [
        {"attributes": {"family": f"{PREFIX}-queue-worker", "container_definitions": json.dumps(container)}}]})
    function_outputs = {f"function_name_{folder}": f"{PREFIX}-{folder}" for folder in functions}
    return {"version": 4, "resources": resources}, function_outputs


def _state(outputs: dict[str, str], resources: list | None = None) -> dict:
    return {"version": 4, "outputs": {name: {"value": value, "type": "string"} for name, value in outputs.items()},
            "resources": resources or []}


def write_deployment(folder: Path, emulator_url: str, outputs: dict[str, dict[str, str]],
                     compute: dict) -> Path:
    """The synth folder (manifest, each stack's backend and provider) and state files, and the record pointing at
    them: what `python -m tools.local deploy` leaves behind."""
    outdir, states = folder / "cdktf.out.local-emulator", folder / "state"
    states.mkdir(parents=True)
    manifest = {"stacks": {}}
    for stack, values in outputs.items():
        directory = outdir / "stacks" / stack
        directory.mkdir(parents=True)
        state_file = states / f"{stack}.tfstate"
        (directory / "cdk.tf.json").write_text(json.dumps({
            "provider": {"aws": [{"region": REGION}]},
            "terraform": {"backend": {"local": {"path": str(state_file)}}}}))
        resources = compute["resources"] if stack == "compute" else []
        state_file.write_text(json.dumps(_state(values, resources)))
        manifest["stacks"][stack] = {"workingDirectory": f"stacks/{stack}", "dependencies": []}
    (outdir / "manifest.json").write_text(json.dumps(manifest))
    record = folder / "local-deploy.json"
    record.write_text(json.dumps({"environment": "local", "emulator_url": emulator_url, "outdir": str(outdir),
                                  "started_emulator": False, "engine": "terraform"}))
    return record


@pytest.fixture
def deployment(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDeployment:
    """A fresh emulator account with the local environment's messaging and storage, and the CLI pointed at it."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10).close()
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    outputs = _create_resources(session, moto_url)
    compute, function_outputs = _compute_state(outputs)
    outputs["compute"] = function_outputs
    outputs["api"] = {"api_invoke_url": "http://api.invalid/", "api_auth": "iam"}
    record = write_deployment(tmp_path, moto_url, outputs, compute)
    monkeypatch.setenv(DEPLOYMENT_ENV, str(record))
    for name in ("PIPELINE_ENV", "PIPELINE_CONFIG", "PIPELINE_MODEL_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return FakeDeployment(emulator_url=moto_url, record=record, outputs=outputs)


@pytest.fixture(scope="session")
def model_url() -> Iterator[str]:
    """The image's model server (serve.py, the example model in .build/model/, trained on first use) on a free
    loopback port, for the whole session."""
    from tools.local.smoke import ModelServer

    server = ModelServer.start()
    yield server.url
    server.stop()


@pytest.fixture
def dead_model_url() -> str:
    """A loopback port where nothing listens: every model call fails as an outage would."""
    return f"http://127.0.0.1:{_free_port()}"
