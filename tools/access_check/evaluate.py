"""Evaluate every request the way AWS does, with @cloud-copilot/iam-simulate in ONE node process per run
(simulate.mjs), and say in words why each denied request is denied.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.access_check.inventory import Inventory
from tools.access_check.policies import Policies, Policy
from tools.access_check.requests import Request, is_service_principal, with_common_context
from tools.access_check.stacks import InputError

SCRIPT = Path(__file__).resolve().parent / "simulate.mjs"
PROJECT_ROOT = SCRIPT.parents[2]
ALLOWED = "Allowed"


class EvaluatorUnavailable(Exception):
    """Node.js or the npm packages are missing: the gate cannot run (never a silent pass)."""


@dataclass
class Decision:
    request: Request
    decision: str  # Allowed, ExplicitlyDenied, ImplicitlyDenied, Error
    allow: list[dict[str, Any]] = field(default_factory=list)  # matching Allow statements (identity and resource)
    grants: list[dict[str, Any]] = field(default_factory=list)  # the deciding ones
    reason: str = ""
    absent_context_keys: list[str] = field(default_factory=list)
    resource_policy: str = ""  # label of the resource policy consulted, if any

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED


@dataclass
class Evaluation:
    decisions: list[Decision]
    policies: dict[str, Policy]  # every policy the simulator saw, by id
    simulator: str
    iam_data: str

    @property
    def denied(self) -> list[Decision]:
        return [decision for decision in self.decisions if not decision.allowed]

    @property
    def statements_evaluated(self) -> int:
        return sum(len(policy.document["Statement"]) for policy in self.policies.values())


def evaluate(inventory: Inventory, policies: Policies, requests: list[Request]) -> Evaluation:
    unique: dict[tuple[Any, ...], Request] = {}
    for request in requests:
        unique.setdefault(request.key, with_common_context(request, inventory.account, inventory.region))
    batch = list(unique.values())
    seen: dict[str, Policy] = {}
    items = []
    for index, request in enumerate(batch):
        identity = _identity_policies(inventory, policies, request)
        resource = policies.resource(request.action, request.resource)
        endpoint = policies.endpoint(str(request.context.get("aws:SourceVpce", "")))
        seen.update({policy.id: policy for policy in identity})
        for policy in (resource, endpoint):
            if policy is not None:
                seen[policy.id] = policy
        items.append(
            {
                "id": index,
                "principal": request.principal,
                "action": request.action,
                "resource": request.resource,
                "account": _resource_account(inventory, request.resource),
                "context": request.context,
                "identityPolicies": [policy.id for policy in identity],
                "resourcePolicy": resource.id if resource else None,
                "endpointPolicies": [endpoint.id] if endpoint else [],
            }
        )
    output = _run_simulator({"policies": {pid: policy.document for pid, policy in seen.items()}, "requests": items})
    decisions = []
    for request, item, result in zip(batch, items, output["results"], strict=True):
        decisions.append(_decision(request, item, result, seen))
    return Evaluation(decisions, seen, output.get("simulator", "?"), output.get("iamData", "?"))


def _identity_policies(inventory: Inventory, policies: Policies, request: Request) -> list[Policy]:
    if is_service_principal(request.principal):
        return []
    if (
        request.principal.startswith("arn:")
        and request.principal.endswith(":root")
        and request.principal.split(":")[4] != inventory.account
    ):
        # An AWS-owned account (the region's ELB account): its own policies are AWS's, and allow its service.
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": request.action, "Resource": "*"}],
        }
        return [
            Policy(f"AWS-owned account {request.principal.split(':')[4]}", "AWS-owned account", "identity", document)
        ]
    return policies.identity(request.principal)


def _resource_account(inventory: Inventory, resource: str) -> str:
    parts = resource.split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else inventory.account


def _run_simulator(payload: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise EvaluatorUnavailable("the access gate needs Node.js (node on PATH) to run @cloud-copilot/iam-simulate")
    if not (PROJECT_ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        raise EvaluatorUnavailable("the access gate needs the npm packages: run `npm ci` (or `make install`)")
    completed = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(payload), capture_output=True, text=True, cwd=PROJECT_ROOT, check=False
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise EvaluatorUnavailable(f"simulate.mjs failed (exit {completed.returncode}): {last}")
    try:
        return json.loads(completed.stdout)
    except ValueError as error:
        raise InputError(f"simulate.mjs wrote no JSON ({error})") from error


def _decision(request: Request, item: dict[str, Any], result: dict[str, Any], policies: dict[str, Policy]) -> Decision:
    absent = sorted(set(result.get("absentContextKeys", [])))
    resource_policy = policies[item["resourcePolicy"]].label if item["resourcePolicy"] else ""
    decision = Decision(
        request,
        result["decision"],
        result.get("allow", []),
        result.get("grants", []),
        absent_context_keys=absent,
        resource_policy=resource_policy,
    )
    if not decision.allowed:
        decision.reason = _reason(item, result, policies, absent)
    return decision


def _reason(item: dict[str, Any], result: dict[str, Any], policies: dict[str, Policy], absent: list[str]) -> str:
    if result["decision"] == "Error":
        return f"the simulator refused the request: {result.get('error')}"
    if result.get("deny"):
        denials = "; ".join(
            f"{_label(policies, d.get('policy'), d['kind'], item)} statement {d['sid'] or '#' + str(d['index'])}"
            for d in result["deny"]
        )
        return f"explicitly denied by {denials}"
    misses = []
    for miss in result.get("nearMisses", []):
        failed = ", ".join(_condition_text(condition, item, absent) for condition in miss["failed"]) or "its conditions"
        misses.append(
            f"{_label(policies, miss.get('policy'), miss['kind'], item)} statement "
            f"{miss['sid'] or '(no Sid)'} names it but {failed}"
        )
    if misses:
        return "implicitly denied: " + "; ".join(misses)
    consulted = [policies[pid].label for pid in item["identityPolicies"]]
    if item["resourcePolicy"]:
        consulted.append(policies[item["resourcePolicy"]].label)
    if item["action"].startswith("kms:") and item["resourcePolicy"]:
        key_policy = policies[item["resourcePolicy"]].label
        if result.get("identityResult") == "Allowed":
            return (
                f"implicitly denied: an identity policy allows it, but the key policy {key_policy} neither "
                "allows this principal nor lets IAM policies of the account grant it"
            )
        return (
            f"implicitly denied: no identity statement allows it and the key policy {key_policy} does not "
            f"allow this principal (consulted: {', '.join(consulted)})"
        )
    return f"implicitly denied: no statement allows it (consulted: {', '.join(consulted) or 'no policy'})"


def _label(policies: dict[str, Policy], policy_id: str | None, kind: str, item: dict[str, Any]) -> str:
    if kind == "resource" and item["resourcePolicy"]:
        return policies[item["resourcePolicy"]].label
    return policies[policy_id].label if policy_id in policies else str(policy_id)


def _condition_text(condition: dict[str, Any], item: dict[str, Any], absent: list[str]) -> str:
    key = condition["key"]
    text = f"{condition['operator']} {key} {' | '.join(condition['values'])} fails"
    if condition.get("missing") and any(key.lower() == name.lower() for name in absent):
        return (
            f"{text}: AWS sends no {key} for {item['action']} on this resource type (service authorization reference)"
        )
    if condition.get("missing"):
        return f"{text}: the request carries no {key}"
    return text
