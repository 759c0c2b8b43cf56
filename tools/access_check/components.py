"""The runtime components and their call manifests (`manifests/<component>.json`, one per component).

A manifest lists the SDK calls a component's code makes, with concrete test values turned into symbols:
`${RESULTS_BUCKET}` (a contract environment variable of lambdas/contract.py) and `${JOB_ID}`. Here a manifest is
tied to where the component runs in a synthesized environment (a Lambda function found by its handler, or an
ECS task definition found by its construct path) and its symbols to that function's or container's variables.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.access_check import actions
from tools.access_check.inventory import Inventory
from tools.access_check.requests import RECORDED, Request
from tools.access_check.stacks import InputError

MANIFESTS_DIR = Path(__file__).resolve().parent / "manifests"
JOB_ID_SYMBOL = "JOB_ID"
# The job id every recorded key is written with; any UUID would do.
EXAMPLE_JOB_ID = "3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90"
_SYMBOL = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


@dataclass(frozen=True)
class Call:
    """One recorded or declared SDK call: `service:Operation`, its resource parameters, its outcomes, and the
    contract variables whose values it was made under (`when`: {"MODEL_BACKEND": "sagemaker"} for a call of the
    model client, which makes different calls per backend; empty: made whatever the configuration)."""

    call: str
    # Compared (two keys are two calls) but not hashed (a dict cannot be): equal calls still hash alike.
    params: dict[str, str] = field(hash=False)
    outcomes: tuple[str, ...] = ()
    when: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def service(self) -> str:
        return self.call.split(":", 1)[0]

    @property
    def operation(self) -> str:
        return self.call.split(":", 1)[1]

    @property
    def signature(self) -> tuple[Any, ...]:
        return (self.call, tuple(sorted(self.params.items())), tuple(sorted(self.outcomes)),
                tuple(sorted(self.when.items())))

    def describe(self) -> str:
        params = " ".join(f"{key}={value}" for key, value in sorted(self.params.items()))
        outcomes = f" -> {'/'.join(self.outcomes)}" if self.outcomes else ""
        when = f" (when {', '.join(f'{k}={v}' for k, v in sorted(self.when.items()))})" if self.when else ""
        return f"{self.call} {params}{outcomes}{when}".strip()

    def as_json(self) -> dict[str, Any]:
        document = {"call": self.call, "params": dict(sorted(self.params.items())), "outcomes": sorted(self.outcomes)}
        return document | ({"when": dict(sorted(self.when.items()))} if self.when else {})


@dataclass(frozen=True)
class Manifest:
    component: str
    runs_as: dict[str, str] = field(hash=False)
    calls: tuple[Call, ...]
    recorded: bool  # False: declared by hand (the code that makes the calls is not there yet)
    note: str = ""

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            calls = tuple(Call(item["call"], dict(item.get("params", {})), tuple(item.get("outcomes", [])),
                               dict(item.get("when", {})))
                          for item in raw.get("calls", []))
            return cls(raw["component"], dict(raw["runs_as"]), calls, bool(raw.get("recorded", True)),
                       raw.get("note", ""))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InputError(f"{path}: not a call manifest ({error})") from error

    def as_json(self) -> dict[str, Any]:
        return {"component": self.component, "runs_as": self.runs_as, "recorded": self.recorded, "note": self.note,
                "calls": [call.as_json() for call in sorted(self.calls, key=lambda c: c.signature)]}


def load_manifests(folder: Path = MANIFESTS_DIR) -> list[Manifest]:
    return [Manifest.load(path) for path in sorted(folder.glob("*.json"))]


@dataclass(frozen=True)
class Deployment:
    """Where a component runs in one environment: the role its code runs as and its environment variables."""

    component: str
    role_arn: str
    role_label: str
    environment: dict[str, str] = field(hash=False)
    vpc_id: str | None = None  # the VPC its calls leave from (through VPC endpoints where there are some)


def locate(inventory: Inventory, manifest: Manifest) -> Deployment | None:
    """The component's deployment in this environment, or None when the environment does not deploy it."""
    if "lambda_handler" in manifest.runs_as:
        for function in inventory.blocks("aws_lambda_function"):
            if inventory.arg(function, "handler") == manifest.runs_as["lambda_handler"]:
                variables = inventory.arg(function, "environment.variables") or {}
                vpc = inventory.vpc_of_subnets(inventory.arg(function, "vpc_config.subnet_ids") or [])
                return _deployment(inventory, manifest, inventory.arg(function, "role"), variables, vpc)
        return None
    if "ecs_task_definition" in manifest.runs_as:
        suffix = "/" + manifest.runs_as["ecs_task_definition"].strip("/")
        for task in inventory.blocks("aws_ecs_task_definition"):
            if task.path.endswith(suffix):
                containers = json.loads(inventory.arg(task, "container_definitions"))
                variables = {item["name"]: item["value"] for item in containers[0].get("environment", [])}
                services = [service for service in inventory.blocks("aws_ecs_service")
                            if inventory.arg(service, "task_definition") == inventory.attr(task, "arn")]
                subnets = inventory.arg(services[0], "network_configuration.subnets") or [] if services else []
                vpc = inventory.vpc_of_subnets(subnets)
                return _deployment(inventory, manifest, inventory.arg(task, "task_role_arn"), variables, vpc)
        return None
    raise InputError(f"manifest {manifest.component}: runs_as names neither lambda_handler nor ecs_task_definition")


def _deployment(inventory: Inventory, manifest: Manifest, role_arn: str | None, variables: dict[str, Any],
                vpc_id: str | None) -> Deployment:
    if not role_arn:
        raise InputError(f"component {manifest.component} runs without a role in this environment")
    role = inventory.find("aws_iam_role", str(role_arn))
    label = role.path if role else str(role_arn)
    return Deployment(manifest.component, str(role_arn), label, {key: str(value) for key, value in variables.items()},
                      vpc_id)


def substitute(value: str, environment: dict[str, str]) -> str | None:
    """`value` with its symbols replaced, or None when a symbol has no value in this deployment."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match[1]
        if name == JOB_ID_SYMBOL:
            return EXAMPLE_JOB_ID
        if name not in environment:
            missing = True
            return ""
        return environment[name]

    result = _SYMBOL.sub(replace, value)
    return None if missing else result


@dataclass
class ComponentRequests:
    deployment: Deployment | None
    requests: list[Request] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)  # calls whose variables this deployment lacks


def component_requests(inventory: Inventory, manifest: Manifest) -> ComponentRequests:
    deployment = locate(inventory, manifest)
    result = ComponentRequests(deployment)
    if deployment is None:
        return result
    for call in manifest.calls:
        other = {name: value for name, value in call.when.items() if deployment.environment.get(name) != value}
        if other:
            result.not_applicable.append(f"{call.describe()} (this deployment has "
                                         + ", ".join(f"{name}={deployment.environment.get(name, '(unset)')}"
                                                     for name in sorted(other)) + ")")
            continue
        params = {key: substitute(value, deployment.environment) for key, value in call.params.items()}
        if any(value is None for value in params.values()):
            unset = sorted({name for value in call.params.values() for name in _SYMBOL.findall(value)}
                           - set(deployment.environment) - {JOB_ID_SYMBOL})
            result.not_applicable.append(f"{call.describe()} (not set on this deployment: {', '.join(unset)})")
            continue
        origin = f"{manifest.component}: {call.describe()}"
        requests = actions.requests_for_call(inventory, deployment.role_arn, call.service, call.operation,
                                             {k: v for k, v in params.items() if v is not None},
                                             set(call.outcomes), origin)
        result.requests += [_through_endpoint(inventory, deployment, request) for request in requests]
    return result


# IAM service prefix -> the VPC endpoint service its API is reached through
_ENDPOINT_SERVICES = {"s3": "s3", "sns": "sns", "sqs": "sqs", "sagemaker": "sagemaker.runtime", "kms": "kms"}


def _through_endpoint(inventory: Inventory, deployment: Deployment, request: Request) -> Request:
    """A call the component makes itself, from a VPC with an endpoint for that service, carries aws:SourceVpc and
    aws:SourceVpce (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
    service = _ENDPOINT_SERVICES.get(request.action.split(":", 1)[0])
    if request.source != RECORDED or deployment.vpc_id is None or service is None:
        return request
    endpoint = inventory.vpc_endpoint(deployment.vpc_id, service)
    if endpoint is None:
        return request
    context = {**request.context, "aws:SourceVpc": deployment.vpc_id,
               "aws:SourceVpce": str(inventory.attr(endpoint, "id"))}
    return Request(request.principal, request.action, request.resource, context, request.source, request.origin,
                   request.why)
