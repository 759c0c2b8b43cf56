"""Where an environment's pipeline runs and what its stacks output, read from Terraform state (no Terraform run).

Two targets:
- `local`: the emulator deployment that `make deploy-local` recorded (`.build/local-deploy.json`, or the file
  PIPELINE_LOCAL_DEPLOYMENT names). Its synth folder says where each stack's state file is; the outputs and the
  settings of the deployed Lambda functions (environment variables, timeouts, event source mappings) are read
  from those files, so the CLI runs the functions' code exactly as configured, against the emulator.
- `aws`: the environment's own backend: the state bucket (`s3`, read with the caller's credentials) or
  `state/<directory>/` (`local` backend).
An environment without `allowed_account_ids` exists only on the emulator (modules/stacks/base.py: the local guard),
so that decides the default target.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT

DEPLOYMENT_ENV = "PIPELINE_LOCAL_DEPLOYMENT"
DEFAULT_DEPLOYMENT_RECORD = BUILD_DIR / "local-deploy.json"  # written by `python -m tools.local deploy`
TARGETS = ("local", "aws")


class DeploymentError(RuntimeError):
    """The deployment cannot be found or read; the message says what to run."""


@dataclass(frozen=True)
class Runtime:
    """What the compute stack deployed to run code: a Lambda function or a Fargate service's container, with the
    code's whole configuration (its environment variables) and the queues it consumes."""

    name: str
    kind: str  # "function" or "service"
    environment: dict[str, str]
    timeout_seconds: int | None = None  # a function's; a service has no invocation deadline
    queue_names: tuple[str, ...] = ()  # event source mappings (functions), QUEUE_URL (the queue worker service)
    batch_size: int = 10


@dataclass(frozen=True)
class WorkQueue:
    """A work queue and its dead-letter queue, by the config's name (`default`) and their URLs."""

    name: str
    url: str
    dead_letter_url: str


@dataclass(frozen=True)
class Deployment:
    """An environment's deployed pipeline, as far as the CLI needs it."""

    environment: str
    target: str
    region: str
    outputs: dict[str, dict[str, Any]]
    queues: tuple[WorkQueue, ...]
    runtimes: dict[str, Runtime] = field(default_factory=dict)
    emulator_url: str | None = None
    source: str = ""  # where the outputs were read, for messages

    def output(self, name: str) -> Any:
        """One output of whichever stack has it; a missing one is an error naming the stacks read."""
        for values in self.outputs.values():
            if name in values:
                return values[name]
        raise DeploymentError(f"no stack output {name!r} in {self.source} (stacks read: "
                              f"{', '.join(self.outputs) or 'none'}); is the environment deployed?")

    def consumer(self, queue: WorkQueue) -> Runtime | None:
        """What consumes QUEUE on AWS: the function with an event source mapping on it, else the service it feeds."""
        name = queue_name_of(queue.url)
        consumers = [runtime for runtime in self.runtimes.values() if name in runtime.queue_names]
        return min(consumers, key=lambda runtime: runtime.kind != "function", default=None)

    def queue(self, name: str) -> WorkQueue:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise DeploymentError(f"no work queue {name!r}; allowed: {', '.join(q.name for q in self.queues)}")


def output_key(queue_name: str) -> str:
    """The suffix of a queue's outputs (`queue_url_<key>`), as the messaging stack derives it."""
    return queue_name.removesuffix(".fifo").replace("-", "_")


def work_queues(config: Any, outputs: dict[str, dict[str, Any]]) -> tuple[WorkQueue, ...]:
    flat = {name: value for values in outputs.values() for name, value in values.items()}
    queues = []
    for queue in config.messaging.queues:
        key = output_key(queue.name)
        url, dead_letter_url = flat.get(f"queue_url_{key}"), flat.get(f"dead_letter_queue_url_{key}")
        if url and dead_letter_url:
            queues.append(WorkQueue(name=queue.name, url=url, dead_letter_url=dead_letter_url))
    return tuple(queues)


# --- local: the emulator deployment ----------------------------------------------------------------------------


def deployment_record_path() -> Path:
    explicit = os.environ.get(DEPLOYMENT_ENV)
    return Path(explicit) if explicit else DEFAULT_DEPLOYMENT_RECORD


def read_record(path: Path | None = None) -> dict[str, Any]:
    path = path or deployment_record_path()
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise DeploymentError(f"no local deployment ({_shown(path)} does not exist): run `make deploy-local` "
                              "first") from None
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"cannot read the local deployment record {_shown(path)}: {exc}") from None
    missing = [key for key in ("environment", "emulator_url", "outdir") if not record.get(key)]
    if missing:
        raise DeploymentError(f"{_shown(path)} lacks {', '.join(missing)}; run `make deploy-local` again")
    return record


def stack_state_files(outdir: Path) -> dict[str, Path]:
    """stack -> its local state file, from the synthesized backend blocks of OUTDIR."""
    from tools.local.deploy import read_stacks

    try:
        stacks = read_stacks(outdir)
    except (OSError, ValueError, KeyError) as exc:
        raise DeploymentError(f"cannot read the synthesized stacks in {_shown(outdir)} ({exc}); run "
                              "`make deploy-local` again") from None
    files = {}
    for name, stack in stacks.items():
        doc = json.loads((stack.directory / "cdk.tf.json").read_text())
        local = doc.get("terraform", {}).get("backend", {}).get("local")
        if local and local.get("path"):
            files[name] = (stack.directory / local["path"]).resolve()
    return files


def provider_region(outdir: Path) -> str | None:
    from tools.local.deploy import read_stacks

    for stack in read_stacks(outdir).values():
        doc = json.loads((stack.directory / "cdk.tf.json").read_text())
        for provider in doc.get("provider", {}).get("aws", []):
            if provider.get("region"):
                return str(provider["region"])
    return None


def read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"cannot read Terraform state {_shown(path)}: {exc}") from None


def state_outputs(state: dict[str, Any]) -> dict[str, Any]:
    return {name: item.get("value") for name, item in state.get("outputs", {}).items()}


def _resources(state: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [instance.get("attributes", {}) for resource in state.get("resources", [])
            if resource.get("type") == kind and resource.get("mode") == "managed"
            for instance in resource.get("instances", [])]


def queue_name_of(url_or_arn: str) -> str:
    """The queue name at the end of a queue URL (`.../<account>/<name>`) or ARN (`...:<account>:<name>`)."""
    return url_or_arn.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def deployed_runtimes(state: dict[str, Any]) -> dict[str, Runtime]:
    """name -> Runtime, from a stack's state: Lambda functions with their event source mappings, and task
    definitions with their containers' environment."""
    mappings: dict[str, list[dict[str, Any]]] = {}
    for mapping in _resources(state, "aws_lambda_event_source_mapping"):
        function = str(mapping.get("function_name", "")).rsplit(":", 1)[-1]
        mappings.setdefault(function, []).append(mapping)
    runtimes = {}
    for attributes in _resources(state, "aws_lambda_function"):
        name = attributes.get("function_name", "")
        variables = ((attributes.get("environment") or [{}])[0] or {}).get("variables") or {}
        consumed = mappings.get(name, []) + mappings.get(attributes.get("arn", ""), [])
        runtimes[name] = Runtime(
            name=name, kind="function", environment={k: str(v) for k, v in variables.items()},
            timeout_seconds=int(attributes.get("timeout") or 3),
            queue_names=tuple(queue_name_of(m.get("event_source_arn", "")) for m in consumed),
            batch_size=int(consumed[0].get("batch_size") or 10) if consumed else 10)
    for attributes in _resources(state, "aws_ecs_task_definition"):
        try:
            containers = json.loads(attributes.get("container_definitions") or "[]")
        except ValueError:
            continue
        for container in containers:
            variables = {item["name"]: str(item.get("value", "")) for item in container.get("environment") or []}
            queue_url = variables.get("QUEUE_URL")
            name = attributes.get("family", container.get("name", ""))
            runtimes[name] = Runtime(name=name, kind="service", environment=variables,
                                     queue_names=(queue_name_of(queue_url),) if queue_url else ())
    return runtimes


def local_deployment(config: Any, record_path: Path | None = None) -> Deployment:
    """The emulator deployment of CONFIG's environment; refuses another environment's deployment by name."""
    from tools.emulator import answers

    path = record_path or deployment_record_path()
    record = read_record(path)
    if record["environment"] != config.environment:
        raise DeploymentError(f"the local deployment ({_shown(path)}) is environment {record['environment']!r}, not "
                              f"{config.environment!r}: use --env {record['environment']}, or deploy this one with "
                              f"PIPELINE_ENV={config.environment} make deploy-local")
    url = str(record["emulator_url"]).rstrip("/")
    if not answers(url):
        raise DeploymentError(f"the emulator of the local deployment ({url}) does not answer: run "
                              "`make destroy-local`, then `make deploy-local`")
    outdir = Path(record["outdir"])
    states = {stack: read_state(file) for stack, file in stack_state_files(outdir).items()}
    outputs = {stack: state_outputs(state) for stack, state in states.items() if state}
    if not outputs:
        raise DeploymentError(f"the local deployment in {_shown(outdir)} has no state yet: run `make deploy-local`")
    runtimes: dict[str, Runtime] = {}
    for state in states.values():
        runtimes.update(deployed_runtimes(state))
    return Deployment(environment=config.environment, target="local", region=provider_region(outdir) or config.region,
                      outputs=outputs, queues=work_queues(config, outputs), runtimes=runtimes, emulator_url=url,
                      source=f"the emulator deployment {_shown(outdir)}")


# --- aws: the environment's backend ----------------------------------------------------------------------------


def aws_deployment(config: Any, stacks: tuple[str, ...] = ("api", "messaging")) -> Deployment:
    """Outputs of STACKS from the environment's state: the s3 backend's objects, or the local backend's files."""
    from modules.config.backend import S3BackendConfig

    outputs: dict[str, dict[str, Any]] = {}
    backend = config.backend
    if isinstance(backend, S3BackendConfig):
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        bucket = config.backend_bucket
        client = boto3.client("s3", region_name=backend.region or config.region)
        source = f"s3://{bucket}/{backend.key_prefix}/"
        for stack in stacks:
            key = f"{backend.key_prefix}/{stack}.tfstate"
            try:
                body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in ("NoSuchKey", "404"):
                    continue
                raise DeploymentError(f"cannot read the state s3://{bucket}/{key} ({code}): the caller needs "
                                      "s3:GetObject on the state bucket and kms:Decrypt on its key") from None
            except BotoCoreError as exc:
                raise DeploymentError(f"cannot read the state s3://{bucket}/{key}: {exc}") from None
            outputs[stack] = state_outputs(json.loads(body))
    else:
        directory = PROJECT_ROOT / backend.directory  # the local backend's folder (not modules.stacks: no jsii)
        source = _shown(directory)
        for stack in stacks:
            state = read_state(directory / f"{stack}.tfstate")
            if state:
                outputs[stack] = state_outputs(state)
    return Deployment(environment=config.environment, target="aws", region=config.region, outputs=outputs,
                      queues=work_queues(config, outputs), source=f"the state in {source}")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
