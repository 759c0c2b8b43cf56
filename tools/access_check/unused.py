"""Unused grants: actions, resources and principals an Allow statement grants that no recorded or declared call
needs (a principal: a service or another account named by a resource or key policy that no call comes from).

Least privilege both ways: a denial is a call the policies miss, an unused grant is a policy the calls don't
need. Accepted ones are listed, each with its reason, in accepted_unused.yaml.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.access_check.evaluate import Evaluation
from tools.access_check.policies import Policies, Policy
from tools.access_check.stacks import InputError

EXPLANATIONS_FILE = Path(__file__).resolve().parent / "accepted_unused.yaml"


@dataclass(frozen=True)
class UnusedGrant:
    policy: str  # the policy's label (construct path, environment-independent)
    sid: str
    action: str  # the granted action pattern, or "" when only a resource or a principal is unused
    resource: str  # the granted resource pattern, or "" when the whole action is unused
    explanation: str = ""
    principal: str = ""  # a resource or key policy's principal no call comes from

    def describe(self) -> str:
        if self.principal:
            what = f"principal {self.principal} (no call comes from it)"
        elif self.action:
            what = f"{self.action} (no call needs it)"
        else:
            what = f"resource {self.resource} (no call reaches it)"
        return f"{self.policy} / {self.sid}: {what}"


@dataclass(frozen=True)
class Explanation:
    policy: str
    sid: str
    action: str
    resource: str
    reason: str
    principal: str = ""

    def covers(self, grant: UnusedGrant) -> bool:
        return (
            self.policy == grant.policy
            and self.sid == grant.sid
            and (not self.action or self.action == grant.action)
            and (not self.resource or fnmatch.fnmatchcase(grant.resource, self.resource))
            and self.principal == grant.principal
        )


def load_explanations(path: Path = EXPLANATIONS_FILE) -> list[Explanation]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        return [
            Explanation(
                item["policy"],
                item["sid"],
                item.get("action", ""),
                item.get("resource", ""),
                " ".join(str(item["reason"]).split()),
                item.get("principal", ""),
            )
            for item in raw
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a list of accepted unused grants ({error})") from error


def unused_grants(policies: Policies, evaluation: Evaluation, explanations: list[Explanation]) -> list[UnusedGrant]:
    used_actions: set[tuple[str, int, str]] = set()
    used_resources: set[tuple[str, int, str]] = set()
    used_principals: set[tuple[str, int, str]] = set()
    for decision in evaluation.decisions:
        if not decision.allowed:
            continue
        resource_policy = policies.resource(decision.request.action, decision.request.resource)
        for statement in decision.allow:
            policy_id = (
                resource_policy.id if statement["kind"] == "resource" and resource_policy else statement.get("policy")
            )
            used_actions.update((policy_id, statement["index"], action) for action in statement["actions"])
            used_resources.update((policy_id, statement["index"], resource) for resource in statement["resources"])
            if statement["kind"] == "resource":
                used_principals.add((policy_id, statement["index"], decision.request.principal))
    found = []
    for policy in policies.all:
        for index, statement in enumerate(policy.document["Statement"], start=1):
            if not _is_grant(policy, statement):
                continue
            sid = statement.get("Sid") or f"#{index}"
            actions = _as_list(statement.get("Action"))
            unused_actions = [action for action in actions if (policy.id, index, action) not in used_actions]
            for action in unused_actions:
                found.append(UnusedGrant(policy.label, sid, action, ""))
            if len(unused_actions) < len(actions) or not actions:
                for resource in _as_list(statement.get("Resource")):
                    if (policy.id, index, resource) not in used_resources:
                        found.append(UnusedGrant(policy.label, sid, "", resource))
            if policy.kind != "identity":
                for principal in _named_principals(statement.get("Principal")):
                    if (policy.id, index, principal) not in used_principals:
                        found.append(UnusedGrant(policy.label, sid, "", "", principal=principal))
    return [_explained(grant, explanations) for grant in found]


def _named_principals(principal: Any) -> list[str]:
    """The services and the principals of other accounts a resource or key policy statement names; an account's
    root (or its bare id) delegates to that account's IAM, which the identity policies then decide."""
    if not isinstance(principal, dict):
        return []
    named = list(_as_list(principal.get("Service")))
    named += [arn for arn in _as_list(principal.get("AWS")) if not (arn.endswith(":root") or arn.isdigit())]
    return named


def _explained(grant: UnusedGrant, explanations: list[Explanation]) -> UnusedGrant:
    for explanation in explanations:
        if explanation.covers(grant):
            return UnusedGrant(grant.policy, grant.sid, grant.action, grant.resource, explanation.reason)
    return grant


def _is_grant(policy: Policy, statement: dict[str, Any]) -> bool:
    """Allow statements that give a principal something; a key policy's delegation to the account is not one."""
    if statement.get("Effect") != "Allow" or "NotAction" in statement:
        return False
    if policy.kind == "identity":
        return True
    principal = statement.get("Principal")
    if isinstance(principal, dict) and set(principal) == {"AWS"}:
        identifiers = _as_list(principal["AWS"])
        return not all(identifier.endswith(":root") or identifier.isdigit() for identifier in identifiers)
    return principal != "*"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
