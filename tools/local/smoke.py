"""The smoke test through deployed resources: submit -> requests topic -> work queue -> worker -> model ->
results bucket -> results topic, using the Lambda code itself (imported in-process) and the real model server.

Why in-process handlers: the emulator cannot invoke Lambda functions (moto runs them in Docker, which these
machines do not have), so the deployed functions exist but the code runs here, with exactly the environment
variables of lambdas/contract.py that the compute stack sets on them, pointed at the deployed names.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT

MODEL_DIR = BUILD_DIR / "model"
MODEL_START_TIMEOUT_SECONDS = 90.0
QUEUE_WAIT_SECONDS = 20.0
SETOSA, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]
SMOKE_MODEL, SMOKE_PRIORITY = "iris", "normal"


# --- steps ------------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    passed: bool
    seconds: float
    detail: str = ""


@dataclass
class Steps:
    """Each step timed and printed as it ends (✓/✗); a failed step stops the ones that depend on it."""

    say: Callable[[str], None]
    done: list[Step] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[dict[str, str]]:
        note: dict[str, str] = {}
        started = time.monotonic()
        try:
            yield note
        except Exception as exc:  # every failure becomes a ✗ line with its reason
            step = Step(name, False, time.monotonic() - started, f"{type(exc).__name__}: {exc}")
            self.done.append(step)
            self.say(f"✗ {name} ({step.seconds:.1f} s): {step.detail}")
            raise StepFailed(name) from exc
        step = Step(name, True, time.monotonic() - started, note.get("detail", ""))
        self.done.append(step)
        self.say(f"✓ {name} ({step.seconds:.1f} s)" + (f": {step.detail}" if step.detail else ""))

    @property
    def passed(self) -> bool:
        return bool(self.done) and all(step.passed for step in self.done)


class StepFailed(Exception):
    """A step failed (already reported); the caller skips to the teardown."""


# --- model server -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ModelServer:
    """The image's server (serve.py -> gunicorn) on loopback, with the example model trained on first use."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, model_dir: Path = MODEL_DIR) -> ModelServer:
        port = _free_port()
        log = BUILD_DIR / "local-deploy" / "model-server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "containers.inference.serve", "--model-dir", str(model_dir),
                   "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--train-if-missing"]
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        server = cls(url=f"http://127.0.0.1:{port}", process=process, log=log)
        deadline = time.monotonic() + MODEL_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"model server exited with {process.returncode} (log: {log})")
            try:
                with urllib.request.urlopen(f"{server.url}/ping", timeout=2) as response:
                    if response.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        server.stop()
        raise RuntimeError(f"model server did not answer /ping within {MODEL_START_TIMEOUT_SECONDS:.0f} s (log: {log})")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


# --- deployed names ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployedPipeline:
    """The names the smoke test needs, from the stacks' Terraform outputs."""

    results_bucket: str
    requests_topic_arn: str
    results_topic_arn: str
    work_queue_name: str
    work_queue_url: str

    @classmethod
    def from_outputs(cls, outputs: dict[str, dict[str, Any]], queue_filters: dict[str, dict[str, tuple[str, ...]]]
                     ) -> DeployedPipeline:
        """QUEUE_FILTERS (queue name -> filter from config) picks the queue a normal-priority iris job lands in."""
        flat = {name: value for stack in outputs.values() for name, value in stack.items()}
        attributes = {"model": SMOKE_MODEL, "priority": SMOKE_PRIORITY}
        matching = [name for name, rules in queue_filters.items()
                    if all(attributes.get(attr) in values for attr, values in rules.items())]
        missing = [name for name in ("results_bucket_name", "requests_topic_arn", "results_topic_arn")
                   if name not in flat]
        if not matching:
            missing.append(f"a work queue whose filter accepts {attributes}")
        else:
            queue_output = f"queue_url_{matching[0].removesuffix('.fifo').replace('-', '_')}"
            if queue_output not in flat:
                missing.append(queue_output)
        if missing:
            raise RuntimeError(f"deployed stacks lack output(s) {', '.join(missing)} "
                               f"(stacks deployed: {', '.join(outputs) or 'none'})")
        return cls(results_bucket=flat["results_bucket_name"], requests_topic_arn=flat["requests_topic_arn"],
                   results_topic_arn=flat["results_topic_arn"], work_queue_name=matching[0],
                   work_queue_url=flat[queue_output])


@contextlib.contextmanager
def handler_environment(values: dict[str, str]) -> Iterator[None]:
    """Set the contract variables for the in-process handlers, with fresh boto3 clients; restore after."""
    from lambdas import model_client
    from lambdas.status import handler as status
    from lambdas.submit import handler as submit
    from lambdas.worker import handler as worker

    cached = (submit.s3, submit.sns, worker.s3, worker.sns, status.s3, model_client.sagemaker_runtime)
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    for client in cached:
        client.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for client in cached:
            client.cache_clear()


def api_event(method: str, path: str, body: Any = None, path_parameters: dict[str, str] | None = None) -> dict:
    """An API Gateway HTTP API (payload 2.0) event, as the deployed route delivers it."""
    event: dict[str, Any] = {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": path,
                             "headers": {"content-type": "application/json"},
                             "requestContext": {"http": {"method": method, "path": path}}, "isBase64Encoded": False}
    if body is not None:
        event["body"] = json.dumps(body)
    if path_parameters:
        event["pathParameters"] = path_parameters
    return event


def in_process_api(environment: dict[str, str]):
    """`call(method, path, body) -> ApiResponse` answering the API's routes with the handlers' own code, run here
    with ENVIRONMENT (the contract variables): the emulator cannot invoke the deployed functions."""
    from tools.api_client import ApiResponse

    def call(method: str, path: str, body: Any = None) -> ApiResponse:
        with handler_environment(environment):
            from lambdas.predict import handler as predict
            from lambdas.submit import handler as submit

            routes = {("POST", "/v1/predict"): predict.handler, ("POST", "/v1/jobs"): submit.handler}
            if (method, path) not in routes:
                return ApiResponse(status=404, body={"message": "Not Found"}, headers={})
            answer = routes[(method, path)](api_event(method, path, body), None)
        text = answer.get("body") or ""
        try:
            document = json.loads(text) if text else None
        except ValueError:
            document = text
        return ApiResponse(status=int(answer["statusCode"]), body=document, headers=dict(answer.get("headers") or {}))

    return call


def _receive(sqs: Any, queue_url: str, timeout: float = QUEUE_WAIT_SECONDS) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       MessageAttributeNames=["All"], AttributeNames=["All"]).get("Messages", [])
        if messages:
            return messages
    return []


def run_smoke(steps: Steps, *, emulator_url: str, region: str, outputs: dict[str, dict[str, Any]],
              queue_filters: dict[str, dict[str, tuple[str, ...]]], model_dir: Path = MODEL_DIR,
              model_label: str = "the example model") -> None:
    """Every step of the smoke test, the job answered by the model in MODEL_DIR; raises StepFailed at the first
    failed step (already reported)."""
    import boto3

    from lambdas import contract

    with steps.step("deployed outputs name the bucket, topics and work queue") as note:
        deployed = DeployedPipeline.from_outputs(outputs, queue_filters)
        note["detail"] = f"queue {deployed.work_queue_name}, bucket {deployed.results_bucket}"

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
    sqs, sns = (session.client(name, endpoint_url=emulator_url) for name in ("sqs", "sns"))
    model: ModelServer | None = None
    probe_url = subscription_arn = None
    try:
        with steps.step(f"model server (containers/inference) serving {model_label} answers /ping") as note:
            model = ModelServer.start(model_dir)
            note["detail"] = model.url

        with steps.step("probe queue subscribed to the results topic"):
            probe_url = sqs.create_queue(QueueName=f"smoke-probe-{int(time.time())}")["QueueUrl"]
            probe_arn = sqs.get_queue_attributes(QueueUrl=probe_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            subscription_arn = sns.subscribe(TopicArn=deployed.results_topic_arn, Protocol="sqs", Endpoint=probe_arn,
                                             Attributes={"RawMessageDelivery": "true"},
                                             ReturnSubscriptionArn=True)["SubscriptionArn"]

        env = {
            "AWS_ENDPOINT_URL": emulator_url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
            contract.RESULTS_BUCKET: deployed.results_bucket,
            contract.REQUESTS_TOPIC_ARN: deployed.requests_topic_arn,
            contract.RESULTS_TOPIC_ARN: deployed.results_topic_arn,
            contract.QUEUE_URL: deployed.work_queue_url,
            contract.MODEL_BACKEND: contract.BACKEND_HTTP,
            contract.MODEL_URL: model.url,
        }
        with handler_environment(env):
            from lambdas.status import handler as status
            from lambdas.submit import handler as submit
            from lambdas.worker import handler as worker

            with steps.step("submit handler stores the job and publishes it to the requests topic") as note:
                answer = submit.handler(api_event("POST", "/v1/jobs", {
                    "model": SMOKE_MODEL, "priority": SMOKE_PRIORITY, "inputs": {"instances": [SETOSA, VIRGINICA]}}), None)
                if answer["statusCode"] != 202:
                    raise AssertionError(f"submit answered {answer['statusCode']}: {answer.get('body')}")
                job_id = json.loads(answer["body"])["job_id"]
                note["detail"] = f"job {job_id}"

            with steps.step(f"job arrives in the deployed work queue {deployed.work_queue_name!r}"):
                messages = _receive(sqs, deployed.work_queue_url)
                ours = [m for m in messages if json.loads(m["Body"]).get("job_id") == job_id]
                if not ours:
                    raise AssertionError(f"no message for job {job_id} within {QUEUE_WAIT_SECONDS:.0f} s "
                                         f"({len(messages)} other message(s))")

            with steps.step("worker handler runs the job through the model server"):
                event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                                      "body": m["Body"], "attributes": m.get("Attributes", {}),
                                      "messageAttributes": m.get("MessageAttributes", {}), "eventSource": "aws:sqs"}
                                     for m in ours]}
                outcome = worker.handler(event, None)
                if outcome != {"batchItemFailures": []}:
                    raise AssertionError(f"worker reported failures: {outcome}")
                for message in ours:  # what the event source mapping does after a successful batch
                    sqs.delete_message(QueueUrl=deployed.work_queue_url, ReceiptHandle=message["ReceiptHandle"])

            with steps.step("result stored in the deployed results bucket") as note:
                s3 = session.client("s3", endpoint_url=emulator_url)
                body = s3.get_object(Bucket=deployed.results_bucket, Key=contract.result_key(job_id))["Body"].read()
                result = json.loads(body)
                labels = [p.get("label") for p in result.get("result", {}).get("predictions", [])]
                if result.get("status") != contract.STATUS_SUCCEEDED or labels != ["setosa", "virginica"]:
                    raise AssertionError(f"unexpected result document: {result}")
                note["detail"] = f"{contract.result_key(job_id)}: {', '.join(labels)}"

            with steps.step("notification published on the results topic"):
                notices = [json.loads(m["Body"]) for m in _receive(sqs, probe_url)]
                expected = {"job_id": job_id, "status": contract.STATUS_SUCCEEDED,
                            "result_key": contract.result_key(job_id)}
                if expected not in notices:
                    raise AssertionError(f"expected {expected}, probe queue got {notices}")

            with steps.step("status handler answers 200 with the result"):
                answer = status.handler(api_event("GET", f"/v1/jobs/{job_id}", path_parameters={"id": job_id}), None)
                if answer["statusCode"] != 200:
                    raise AssertionError(f"status answered {answer['statusCode']}: {answer.get('body')}")
    finally:
        if subscription_arn:
            with contextlib.suppress(Exception):
                sns.unsubscribe(SubscriptionArn=subscription_arn)
        if probe_url:
            with contextlib.suppress(Exception):
                sqs.delete_queue(QueueUrl=probe_url)
        if model is not None:
            model.stop()
