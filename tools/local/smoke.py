"""The smoke test through deployed resources: one job through each consumer path, a poison message on each path
ending in its dead-letter queue, and a duplicate delivery on each path giving one result.

Paths (which queue each consumer takes comes from the config's one-consumer rule):
1. the worker function: submit -> requests topic -> its queue -> the worker handler -> model server -> result;
2. the queue worker: submit -> requests topic -> its queue -> the image's `work` command, run as a local process
   with exactly the command and environment of the deployed task definition -> its model backend;
3. the asynchronous endpoint (when a consumer hands jobs to one): input in S3 -> the endpoint's part, played by
   tools/local/async_endpoint.py while the emulator lacks it (skip_async_processing) -> notifications topic ->
   its queue -> the async_results handler -> result.

Why handlers run in-process: the emulator cannot invoke Lambda functions (moto runs them in Docker, which these
machines do not have), so the deployed functions exist but their code runs here, with the environment each
deployed function carries (read back from the emulator), the model's URL pointed at the local model server. What
an event source mapping does (receive, call, delete the acknowledged records, leave the failed ones) is done here
too, with the failed records made visible again at once instead of after the visibility timeout.
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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.lambda_events import api_event, sqs_event
from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT

MODEL_DIR = BUILD_DIR / "model"
LOG_DIR = BUILD_DIR / "local-deploy"
MODEL_START_TIMEOUT_SECONDS = 90.0
QUEUE_WAIT_SECONDS = 30.0
SETOSA, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]
SMOKE_MODEL = "iris"
POISON = "{not a job"


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


def wait_for(condition: Callable[[], Any], what: str, timeout: float = QUEUE_WAIT_SECONDS, pause: float = 0.3) -> Any:
    """CONDITION()'s first truthy value within TIMEOUT seconds, else an AssertionError naming WHAT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


# --- local processes: the model server and the queue worker ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalProcess:
    """A child process with its log file; `stop()` sends SIGTERM (as ECS does) and waits."""

    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, command: list[str], env: dict[str, str], log_name: str, cwd: Path = PROJECT_ROOT) -> LocalProcess:
        log = LOG_DIR / log_name
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return cls(process, log)

    def stop(self, timeout: float = 60) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text(errors="replace").splitlines() if line.startswith("{")]


def serve_arguments(model_dir: Path, port: int, workers: int) -> list[str]:
    """serve.py's arguments for serving MODEL_DIR on loopback PORT with WORKERS workers: one spelling of its flags
    for every launcher here (the smoke test's server, the containers' tests)."""
    return ["--model-dir", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


@dataclass
class ModelServer:
    """The image's server (serve.py -> gunicorn) on loopback, with the example model trained on first use."""

    url: str
    local: LocalProcess

    @classmethod
    def start(cls, model_dir: Path = MODEL_DIR, workers: int = 1) -> ModelServer:
        port = _free_port()
        local = LocalProcess.start(
            [
                sys.executable,
                "-m",
                "containers.inference.serve",
                *serve_arguments(model_dir, port, workers),
                "--train-if-missing",
            ],
            dict(os.environ),
            "model-server.log",
        )
        server = cls(url=f"http://127.0.0.1:{port}", local=local)
        deadline = time.monotonic() + MODEL_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if local.process.poll() is not None:
                raise RuntimeError(f"model server exited with {local.process.returncode} (log: {local.log})")
            try:
                with urllib.request.urlopen(f"{server.url}/ping", timeout=2) as response:
                    if response.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        server.stop()
        raise RuntimeError(
            f"model server did not answer /ping within {MODEL_START_TIMEOUT_SECONDS:.0f} s (log: {local.log})"
        )

    def stop(self, timeout: float = 15) -> None:
        self.local.stop(timeout=timeout)


def task_definition_container(task_definition: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The command and environment of the deployed ECS task definition's one container."""
    [container] = task_definition["containerDefinitions"]
    return (
        list(container.get("command") or []),
        {item["name"]: item["value"] for item in container.get("environment", [])},
    )


def deployment_container(manifest: Path) -> tuple[list[str], dict[str, str]]:
    """The args and environment of the generated Deployment's one container (on EKS nothing deploys it here)."""
    import yaml

    [deployment] = [o for o in yaml.safe_load_all(manifest.read_text()) if o and o["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return list(container.get("args") or []), {item["name"]: item["value"] for item in container.get("env", [])}


def start_queue_worker(command: list[str], env: dict[str, str], aws_env: dict[str, str]) -> LocalProcess:
    """The queue worker's container, as a local process: the image's entry point (serve.py) with exactly the
    container's command and environment. Added only what the platform and the image provide around it: the task
    role's (pod identity's) credentials and the region (here the emulator's), the image's ENV, lambdas/ beside
    serve.py (PYTHONPATH), and the health file away from the machine's shared /tmp."""
    image_env = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "MODEL_DIR": str(MODEL_DIR)}
    process = LocalProcess.start(
        [sys.executable, str(PROJECT_ROOT / "containers" / "inference" / "serve.py"), *command],
        {
            "PATH": os.environ.get("PATH", ""),
            **image_env,
            **aws_env,
            **env,
            "PYTHONPATH": str(PROJECT_ROOT),
            "HEALTH_FILE": str(LOG_DIR / "queue-worker.health"),
        },
        "queue-worker.log",
        cwd=PROJECT_ROOT / "containers" / "inference",
    )
    return process


# --- the deployed pipeline -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployedPipeline:
    """The names the smoke test needs, from the stacks' Terraform outputs and the config's queue assignment."""

    results_bucket: str
    requests_topic_arn: str
    results_topic_arn: str
    queue_urls: dict[str, str]  # work queue name -> URL
    dead_letter_urls: dict[str, str]  # work queue name -> its dead-letter queue's URL
    function_queue: str | None  # a queue the worker function consumes
    queue_worker_queue: str | None  # the queue the queue worker consumes
    queue_worker_service: str | None
    async_topic_arn: str | None = None  # the asynchronous endpoint's notifications
    async_queue_url: str | None = None
    async_dead_letter_url: str | None = None

    @classmethod
    def from_outputs(cls, outputs: dict[str, dict[str, Any]], config: Any) -> DeployedPipeline:
        flat = {name: value for stack in outputs.values() for name, value in stack.items()}
        names = tuple(queue.name for queue in config.messaging.queues)
        keys = {name: name.removesuffix(".fifo").replace("-", "_") for name in names}
        wanted = [
            "results_bucket_name",
            "requests_topic_arn",
            "results_topic_arn",
            *(f"queue_url_{key}" for key in keys.values()),
            *(f"dead_letter_queue_url_{key}" for key in keys.values()),
        ]
        if config.inference.mode == "async":
            wanted += [
                "async_notifications_topic_arn",
                "async_notifications_queue_url",
                "async_notifications_dead_letter_queue_url",
            ]
        missing = [name for name in wanted if name not in flat]
        if missing:
            raise RuntimeError(
                f"deployed stacks lack output(s) {', '.join(missing)} (stacks deployed: {', '.join(outputs) or 'none'})"
            )
        function_queues = config.compute.lambda_worker_queues(names)
        return cls(
            results_bucket=flat["results_bucket_name"],
            requests_topic_arn=flat["requests_topic_arn"],
            results_topic_arn=flat["results_topic_arn"],
            queue_urls={name: flat[f"queue_url_{key}"] for name, key in keys.items()},
            dead_letter_urls={name: flat[f"dead_letter_queue_url_{key}"] for name, key in keys.items()},
            function_queue=function_queues[0] if function_queues else None,
            queue_worker_queue=config.compute.worker_queue_for_fargate(names),
            queue_worker_service=flat.get("queue_worker_service_name"),
            async_topic_arn=flat.get("async_notifications_topic_arn"),
            async_queue_url=flat.get("async_notifications_queue_url"),
            async_dead_letter_url=flat.get("async_notifications_dead_letter_queue_url"),
        )


def attributes_for(queue: Any) -> dict[str, str]:
    """Message attributes a job needs to pass QUEUE's filter policy (the first allowed value of each)."""
    return {"model": SMOKE_MODEL, "priority": "normal", **{name: values[0] for name, values in queue.filter.items()}}


@contextlib.contextmanager
def handler_environment(values: dict[str, str]) -> Iterator[None]:
    """Set a deployed function's environment for the in-process handlers, with fresh boto3 clients; restore after."""
    from lambdas import aws_clients, model_client

    cached = [
        value
        for module in (aws_clients, model_client)
        for value in vars(module).values()
        if callable(getattr(value, "cache_clear", None))
    ]
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


# --- the smoke test -------------------------------------------------------------------------------------------


@dataclass
class Smoke:
    """The clients, the deployed names and what the paths share (the probe of the results topic, the notices)."""

    steps: Steps
    deployed: DeployedPipeline
    config: Any
    aws_env: dict[str, str]
    sqs: Any
    sns: Any
    s3: Any
    probe_url: str = ""
    notices: list[dict[str, Any]] = field(default_factory=list)
    manifests_dir: Path | None = None  # the generated Kubernetes manifests (orchestrator eks)

    # --- the event source mapping's part ---

    def receive(self, queue_url: str, wait: float = QUEUE_WAIT_SECONDS) -> list[dict[str, Any]]:
        return wait_for(
            lambda: self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", []),
            f"a message in {queue_url}",
            wait,
        )

    def deliver(
        self, handler: Callable[[dict, Any], dict], queue_url: str, messages: list[dict[str, Any]]
    ) -> list[str]:
        """Call HANDLER with MESSAGES as an event source mapping does: delete the acknowledged, make the failed
        visible again at once. Returns the failed message ids."""
        outcome = handler(sqs_event(messages), None)
        failed = {item["itemIdentifier"] for item in outcome["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return sorted(failed)

    def redeliver_until_dead(
        self, handler: Callable[[dict, Any], dict], queue_url: str, dead_letter_url: str, body: str
    ) -> int:
        """Deliver the message BODY until the redrive policy moves it to the dead-letter queue; the deliveries."""
        deliveries = 0
        for _ in range(self.config.messaging.max_receive_count + 2):
            messages = [
                m
                for m in self.sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
                ).get("Messages", [])
                if m["Body"] == body
            ]
            if not messages:
                break
            deliveries += 1
            self.deliver(handler, queue_url, messages)
        self.in_dead_letter_queue(dead_letter_url, body)
        return deliveries

    def in_dead_letter_queue(self, dead_letter_url: str, body: str) -> None:
        """BODY is in the dead-letter queue (received, then made visible again for whoever inspects it)."""

        def arrived() -> bool:
            found = [
                m
                for m in self.sqs.receive_message(
                    QueueUrl=dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
                if m["Body"] == body
            ]
            for message in found:
                self.sqs.change_message_visibility(
                    QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            return bool(found)

        wait_for(arrived, f"the poison message in {dead_letter_url}")

    # --- the pipeline's own answers ---

    def submit(self, queue_name: str) -> str:
        from lambdas.submit import handler as submit

        queue = next(q for q in self.config.messaging.queues if q.name == queue_name)
        attributes = attributes_for(queue)
        answer = submit.handler(
            api_event(
                "POST",
                "/v1/jobs",
                {
                    "model": attributes["model"],
                    "priority": attributes["priority"],
                    "inputs": {"instances": [SETOSA, VIRGINICA]},
                },
            ),
            None,
        )
        if answer["statusCode"] != 202:
            raise AssertionError(f"submit answered {answer['statusCode']}: {answer.get('body')}")
        return str(json.loads(answer["body"])["job_id"])

    def result(self, job_id: str) -> dict[str, Any]:
        from lambdas import contract

        body = self.s3.get_object(Bucket=self.deployed.results_bucket, Key=contract.result_key(job_id))["Body"].read()
        result = json.loads(body)
        labels = [p.get("label") for p in result.get("result", {}).get("predictions", [])]
        if result.get("status") != contract.STATUS_SUCCEEDED or labels != ["setosa", "virginica"]:
            raise AssertionError(f"unexpected result document: {result}")
        return result

    def notices_for(self, job_id: str, at_least: int = 1) -> list[dict[str, Any]]:
        """Every results-topic notice about JOB_ID the probe has seen (waiting for AT_LEAST of them)."""

        def seen() -> list[dict[str, Any]]:
            for message in self.sqs.receive_message(
                QueueUrl=self.probe_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", []):
                self.notices.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.probe_url, ReceiptHandle=message["ReceiptHandle"])
            ours = [notice for notice in self.notices if notice.get("job_id") == job_id]
            return ours if len(ours) >= at_least else []

        return wait_for(seen, f"{at_least} notice(s) of job {job_id} on the results topic")

    def one_result_and_one_notice(self, job_id: str) -> None:
        """Exactly one result object and, after a pause for late deliveries, exactly one notice for JOB_ID."""
        from lambdas import contract

        self.notices_for(job_id)
        time.sleep(2)
        notices = self.notices_for(job_id)
        keys = self.s3.list_objects_v2(Bucket=self.deployed.results_bucket, Prefix=contract.result_key(job_id)).get(
            "KeyCount", 0
        )
        if len(notices) != 1 or keys != 1:
            raise AssertionError(
                f"job {job_id}: {keys} result object(s) and {len(notices)} notice(s), expected 1 and 1"
            )

    def status_is_200(self, job_id: str) -> None:
        from lambdas.status import handler as status

        answer = status.handler(api_event("GET", f"/v1/jobs/{job_id}", path_parameters={"id": job_id}), None)
        if answer["statusCode"] != 200:
            raise AssertionError(f"status answered {answer['statusCode']}: {answer.get('body')}")

    def function_environment(self, name: str) -> dict[str, str]:
        """The environment the deployed function carries, as the emulator stores it."""
        from modules.config.compute import ComputeConfig

        client = self._client("lambda")
        function = ComputeConfig.function_name(self.config.name_prefix, name)
        return dict(
            client.get_function_configuration(FunctionName=function).get("Environment", {}).get("Variables", {})
        )

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.aws_env["AWS_ENDPOINT_URL"],
            region_name=self.aws_env["AWS_REGION"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


SMOKE_PATHS = ("worker function", "queue worker")  # the async endpoint path is the queue worker's when it hands off


def run_smoke(
    steps: Steps,
    *,
    emulator_url: str,
    outputs: dict[str, dict[str, Any]],
    config: Any,
    model_dir: Path = MODEL_DIR,
    model_label: str = "the example model",
    paths: tuple[str, ...] = SMOKE_PATHS,
    manifests_dir: Path | None = None,
) -> None:
    """Every step of the smoke test on PATHS, jobs answered by the model in MODEL_DIR; raises StepFailed at the
    first failed step (already reported). MANIFESTS_DIR: the generated Kubernetes manifests (orchestrator eks)."""
    import boto3

    region = config.region
    with steps.step("deployed outputs name the bucket, topics and queues") as note:
        deployed = DeployedPipeline.from_outputs(outputs, config)
        note["detail"] = (
            f"worker function on {deployed.function_queue!r}, queue worker on "
            f"{deployed.queue_worker_queue!r}, bucket {deployed.results_bucket}"
        )

    aws_env = {
        "AWS_ENDPOINT_URL": emulator_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
    clients = {name: session.client(name, endpoint_url=emulator_url) for name in ("sqs", "sns", "s3")}
    smoke = Smoke(
        steps=steps, deployed=deployed, config=config, aws_env=aws_env, manifests_dir=manifests_dir, **clients
    )
    model_server = queue_worker = None
    subscription_arn = None
    try:
        with steps.step(f"model server (containers/inference) serving {model_label} answers /ping") as note:
            model_server = ModelServer.start(model_dir)
            model_url = note["detail"] = model_server.url

        with steps.step("probe queue subscribed to the results topic"):
            smoke.probe_url = smoke.sqs.create_queue(QueueName=f"smoke-probe-{int(time.time())}")["QueueUrl"]
            probe_arn = smoke.sqs.get_queue_attributes(QueueUrl=smoke.probe_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            subscription_arn = smoke.sns.subscribe(
                TopicArn=deployed.results_topic_arn,
                Protocol="sqs",
                Endpoint=probe_arn,
                Attributes={"RawMessageDelivery": "true"},
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]

        submit_env = {**aws_env, **smoke.function_environment("submit")}
        status_env = {**aws_env, **smoke.function_environment("status")}
        if deployed.function_queue and "worker function" in paths:
            _worker_function_path(smoke, model_url, submit_env, status_env)
        if deployed.queue_worker_queue and "queue worker" in paths:
            queue_worker = _queue_worker_path(smoke, model_url, submit_env, status_env)
    finally:
        if queue_worker is not None:
            queue_worker.stop()
        if subscription_arn:
            with contextlib.suppress(Exception):
                smoke.sns.unsubscribe(SubscriptionArn=subscription_arn)
        if smoke.probe_url:
            with contextlib.suppress(Exception):
                smoke.sqs.delete_queue(QueueUrl=smoke.probe_url)
        if model_server is not None:
            model_server.stop()


def _worker_function_path(smoke: Smoke, model_url: str, submit_env: dict[str, str], status_env: dict[str, str]) -> None:
    from lambdas import contract

    deployed, queue = smoke.deployed, smoke.deployed.function_queue
    queue_url, dead_letter_url = deployed.queue_urls[queue], deployed.dead_letter_urls[queue]
    # The deployed environment, but the model where the local loop runs it (the load balancer has no tasks here).
    worker_env = {**smoke.aws_env, **smoke.function_environment("worker"), contract.MODEL_URL: model_url}
    with handler_environment(submit_env):
        with smoke.steps.step(f"worker function path: job submitted, in its queue {queue!r}") as note:
            job_id = smoke.submit(queue)
            messages = [m for m in smoke.receive(queue_url) if json.loads(m["Body"]).get("job_id") == job_id]
            if not messages:
                raise AssertionError(f"no message for job {job_id} in {queue!r}")
            note["detail"] = f"job {job_id}"
    from lambdas.worker import handler as worker

    with handler_environment(worker_env):
        with smoke.steps.step("worker function path: the worker handler runs it through the model server") as note:
            if smoke.deliver(worker.handler, queue_url, messages):
                raise AssertionError("the worker reported the job as failed")
            note["detail"] = (
                f"{contract.result_key(job_id)}: {', '.join(p['label'] for p in smoke.result(job_id)['result']['predictions'])}"
            )
        with smoke.steps.step("worker function path: a duplicate delivery gives one result and one notice"):
            if worker.handler(sqs_event(messages), None)["batchItemFailures"]:
                raise AssertionError("the duplicate delivery failed")
            smoke.one_result_and_one_notice(job_id)
        with smoke.steps.step("worker function path: a poison message ends in its dead-letter queue") as note:
            smoke.sqs.send_message(QueueUrl=queue_url, MessageBody=POISON)
            deliveries = smoke.redeliver_until_dead(worker.handler, queue_url, dead_letter_url, POISON)
            note["detail"] = (
                f"after {deliveries} deliveries (maxReceiveCount {smoke.config.messaging.max_receive_count})"
            )
    with handler_environment(status_env), smoke.steps.step("worker function path: status answers 200"):
        smoke.status_is_200(job_id)


def _queue_worker_path(
    smoke: Smoke, model_url: str, submit_env: dict[str, str], status_env: dict[str, str]
) -> LocalProcess:
    from lambdas import contract

    deployed, queue = smoke.deployed, smoke.deployed.queue_worker_queue
    queue_url, dead_letter_url = deployed.queue_urls[queue], deployed.dead_letter_urls[queue]
    on_eks = smoke.config.compute.orchestrator == "eks"
    source = "the Deployment's (generated manifest)" if on_eks else "the task definition's"
    with smoke.steps.step(f"queue worker path: {source} command and environment run as a local process") as note:
        if on_eks:
            command, env = deployment_container(smoke.manifests_dir / "30-queue-worker.k8s.yaml")
            if env.get(contract.MODEL_BACKEND) == contract.BACKEND_HTTP:
                # The in-cluster Service has no pods here: the local model server stands in, as for the functions.
                env[contract.MODEL_URL] = model_url
        else:
            family = smoke.config.compute.queue_worker_name(smoke.config.name_prefix)
            task_definition = smoke._client("ecs").describe_task_definition(taskDefinition=family)["taskDefinition"]
            command, env = task_definition_container(task_definition)
        process = start_queue_worker(command, env, smoke.aws_env)
        wait_for(
            lambda: (
                process.process.poll() is not None
                or any(line.get("message") == "consuming" for line in process.json_lines())
            ),
            "the consumer's start",
            60,
        )
        if process.process.poll() is not None:
            raise AssertionError(f"the queue worker exited with {process.process.returncode} (log: {process.log})")
        backend = env[contract.MODEL_BACKEND]
        note["detail"] = f"serve.py {' '.join(command)}, MODEL_BACKEND={backend}, log {process.log.name}"
    hands_off = backend == contract.BACKEND_SAGEMAKER_ASYNC
    if backend == contract.BACKEND_HTTP and not on_eks:
        raise AssertionError("a queue worker on the http backend calls the load balancer, which has no tasks here")
    stand_in = _stand_in(smoke, model_url) if hands_off else None

    with handler_environment(submit_env):
        job_id = smoke.submit(queue)
        duplicate = {
            "job_id": str(uuid.uuid4()),
            "model": SMOKE_MODEL,
            "priority": "normal",
            "inputs": {"instances": [SETOSA, VIRGINICA]},
        }
    with smoke.steps.step(
        f"queue worker path: the process takes the job from {queue!r} and deletes it once "
        + ("handed off" if hands_off else "stored")
    ) as note:
        wait_for(lambda: _outcome(process, job_id), f"the queue worker's outcome for job {job_id}", 60)
        note["detail"] = f"job {job_id}: {_outcome(process, job_id)}"
    if hands_off:
        _async_endpoint_path(smoke, stand_in, job_id)
    else:
        with smoke.steps.step("queue worker path: result stored and announced"):
            smoke.result(job_id)
            smoke.notices_for(job_id)
    with smoke.steps.step("queue worker path: a duplicate delivery gives one result and one notice") as note:
        for _ in range(2):
            smoke.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(duplicate))
        wait_for(lambda: len(_outcomes(process, duplicate["job_id"])) == 2, "both deliveries processed", 60)
        if hands_off:
            # Each delivery invoked the endpoint (lambdas/model_client.py hand_off): SageMaker answers each once.
            for _ in range(2):
                stand_in.process(contract.async_input_key(duplicate["job_id"]))
            _translate_pending(smoke, expected=2)
        smoke.one_result_and_one_notice(duplicate["job_id"])
        note["detail"] = f"outcomes {', '.join(_outcomes(process, duplicate['job_id']))}"
    with smoke.steps.step("queue worker path: a poison message ends in its dead-letter queue at once") as note:
        began = time.monotonic()
        smoke.sqs.send_message(QueueUrl=queue_url, MessageBody=POISON)
        smoke.in_dead_letter_queue(dead_letter_url, POISON)
        note["detail"] = f"in {time.monotonic() - began:.1f} s"
    with handler_environment(status_env), smoke.steps.step("queue worker path: status answers 200"):
        smoke.status_is_200(job_id)
    with smoke.steps.step("queue worker path: SIGTERM drains and exits 0") as note:
        code = process.stop()
        if code != 0:
            raise AssertionError(f"the queue worker exited with {code} (log: {process.log})")
        note["detail"] = f"{len(process.json_lines())} JSON log lines"
    return process


def _outcomes(process: LocalProcess, job_id: str) -> list[str]:
    return [
        str(line.get("outcome"))
        for line in process.json_lines()
        if line.get("job_id") == job_id and line.get("message") == "job processed"
    ]


def _outcome(process: LocalProcess, job_id: str) -> str:
    outcomes = _outcomes(process, job_id)
    return outcomes[0] if outcomes else ""


def _stand_in(smoke: Smoke, model_url: str) -> Any:
    from tools.local.async_endpoint import AsyncEndpointStandIn

    if not smoke.config.emulator.skip_async_processing:
        raise AssertionError("the emulator runs no asynchronous inference; set [emulator] skip_async_processing")
    return AsyncEndpointStandIn(
        s3=smoke.s3,
        sns=smoke.sns,
        bucket=smoke.deployed.results_bucket,
        topic_arn=smoke.deployed.async_topic_arn,
        model_url=model_url,
        endpoint_name=smoke.config.inference.endpoint_name,
        region=smoke.config.region,
    )


def _translate_pending(smoke: Smoke, expected: int) -> list[dict[str, Any]]:
    """Deliver EXPECTED notifications from the notifications queue to the async_results handler (its deployed
    environment), as its event source mapping does."""
    from lambdas.async_results import handler as async_results

    deployed, seen = smoke.deployed, []
    with handler_environment({**smoke.aws_env, **smoke.function_environment("async_results")}):
        while len(seen) < expected:
            messages = smoke.receive(deployed.async_queue_url)
            seen += messages
            if smoke.deliver(async_results.handler, deployed.async_queue_url, messages):
                raise AssertionError("async_results refused a notification")
    return seen


def _async_endpoint_path(smoke: Smoke, stand_in: Any, job_id: str) -> None:
    from lambdas import contract
    from lambdas.async_results import handler as async_results

    deployed = smoke.deployed
    with smoke.steps.step("async endpoint path: the endpoint's part (stand-in for moto) answers and notifies") as note:
        key = contract.async_input_key(job_id)
        if key not in stand_in.pending_inputs():
            raise AssertionError(f"no handed-off input {key}")
        notification = stand_in.process(key)
        note["detail"] = f"{notification['invocationStatus']}, {notification['responseParameters']['outputLocation']}"
    with smoke.steps.step("async endpoint path: async_results stores the result and announces it") as note:
        [message] = _translate_pending(smoke, expected=1)
        result = smoke.result(job_id)
        smoke.notices_for(job_id)
        note["detail"] = (
            f"{contract.result_key(job_id)}: {', '.join(p['label'] for p in result['result']['predictions'])}"
        )
    with smoke.steps.step("async endpoint path: a duplicate notification gives one result and one notice"):
        smoke.sns.publish(TopicArn=deployed.async_topic_arn, Message=message["Body"])
        _translate_pending(smoke, expected=1)
        smoke.one_result_and_one_notice(job_id)
    with smoke.steps.step("async endpoint path: a poison notification ends in its dead-letter queue") as note:
        smoke.sns.publish(TopicArn=deployed.async_topic_arn, Message=POISON)
        with handler_environment({**smoke.aws_env, **smoke.function_environment("async_results")}):
            deliveries = smoke.redeliver_until_dead(
                async_results.handler, deployed.async_queue_url, deployed.async_dead_letter_url, POISON
            )
        note["detail"] = f"after {deliveries} deliveries"
