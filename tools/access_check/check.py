"""One run of the gate over one synthesized environment: collect the requests, evaluate them, find unused grants."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.access_check import service_calls
from tools.access_check.components import Manifest, component_requests, load_manifests, pod_identity
from tools.access_check.evaluate import Evaluation, evaluate
from tools.access_check.inventory import Inventory
from tools.access_check.policies import Policies
from tools.access_check.requests import Request
from tools.access_check.stacks import Synthesized
from tools.access_check.unused import Explanation, UnusedGrant, load_explanations, unused_grants


@dataclass
class ComponentStatus:
    component: str
    recorded: bool
    role: str | None  # construct path of the role it runs as, None when not deployed here
    calls: int  # manifest calls evaluated here
    not_applicable: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class Result:
    stacks: Path
    account: str
    region: str
    evaluation: Evaluation
    components: list[ComponentStatus]
    declared_requests: int
    unused: list[UnusedGrant]
    labels: dict[str, str]  # principal -> how to show it
    unproven: list[str]  # runtimes deployed here that no manifest covers: their calls are not evaluated

    @property
    def denials(self):
        return self.evaluation.denied

    @property
    def principals(self) -> list[str]:
        return sorted({decision.request.principal for decision in self.evaluation.decisions})

    @property
    def recorded_calls(self) -> int:
        return sum(status.calls for status in self.components if status.recorded)

    @property
    def declared_calls(self) -> int:
        return self.declared_requests + sum(status.calls for status in self.components if not status.recorded)

    @property
    def unexplained_unused(self) -> list[UnusedGrant]:
        return [grant for grant in self.unused if not grant.explanation]


def run(stacks: Path, manifests: list[Manifest] | None = None, explanations: list[Explanation] | None = None) -> Result:
    synthesized = Synthesized(stacks)
    inventory = Inventory(synthesized)
    policies = Policies(inventory)
    requests: list[Request] = []
    components = []
    for manifest in load_manifests() if manifests is None else manifests:
        found = component_requests(inventory, manifest)
        requests += found.requests
        applicable = len(manifest.calls) - len(found.not_applicable) if found.deployment else 0
        components.append(
            ComponentStatus(
                manifest.component,
                manifest.recorded,
                found.deployment.role_label if found.deployment else None,
                applicable,
                found.not_applicable,
                manifest.note,
            )
        )
    unproven = uncovered_runtimes(inventory, manifests if manifests is not None else load_manifests())
    declared = service_calls.declared_requests(inventory)
    evaluation = evaluate(inventory, policies, requests + declared)
    unused = unused_grants(policies, evaluation, load_explanations() if explanations is None else explanations)
    labels = {}
    for role in inventory.blocks("aws_iam_role"):
        labels[inventory.attr(role, "arn")] = f"{inventory.arg(role, 'name')} ({role.path})"
    return Result(
        stacks, inventory.account, inventory.region, evaluation, components, len(declared), unused, labels, unproven
    )


def uncovered_runtimes(inventory: Inventory, manifests: list[Manifest]) -> list[str]:
    """Lambda functions, ECS task definitions, Batch job definitions and pod identities whose code has no manifest:
    nothing proves their calls."""
    handlers = {m.runs_as.get("lambda_handler") for m in manifests}
    tasks = ["/" + m.runs_as["ecs_task_definition"].strip("/") for m in manifests if "ecs_task_definition" in m.runs_as]
    jobs = [
        "/" + m.runs_as["batch_job_definition"].strip("/") for m in manifests if "batch_job_definition" in m.runs_as
    ]
    uncovered = [
        f"{function.path} (handler {inventory.arg(function, 'handler')})"
        for function in inventory.blocks("aws_lambda_function")
        if inventory.arg(function, "handler") not in handlers
    ]
    uncovered += [
        task.path
        for task in inventory.blocks("aws_ecs_task_definition")
        if not any(task.path.endswith(suffix) for suffix in tasks)
    ]
    uncovered += [
        job.path
        for job in inventory.blocks("aws_batch_job_definition")
        if not any(job.path.endswith(suffix) for suffix in jobs)
    ]
    # Pods with a pod identity: our code has a manifest; the cluster add-ons' calls are declared in service_calls.
    accounts = [m.runs_as["eks_service_account"] for m in manifests if "eks_service_account" in m.runs_as]
    accounts += list(service_calls.ADDON_SERVICE_ACCOUNTS)
    covered = {id(pod_identity(inventory, account)) for account in accounts}
    uncovered += [
        f"{association.path} (service account {inventory.arg(association, 'namespace')}/"
        f"{inventory.arg(association, 'service_account')})"
        for association in inventory.blocks("aws_eks_pod_identity_association")
        if id(association) not in covered
    ]
    return uncovered
