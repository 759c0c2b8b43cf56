"""Edits of a copy of the synthesized JSON that reintroduce a permission defect.

Each edit moves the policies TOWARD the defect whatever today's code says (it removes a grant if present, adds
the faulty statement if absent), so the mutation tests stay meaningful before and after the fixes. Policies are
found through the gate's own resolver (by what they apply to), and edited where they are written: an
`aws_iam_policy_document` data source, or a JSON policy string.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.access_check.components import load_manifests, locate
from tools.access_check.inventory import Inventory
from tools.access_check.stacks import Block, Synthesized


class StacksCopy:
    """A writable copy of one environment's stack JSON (the assets are left out: the gate reads only JSON)."""

    def __init__(self, source: Path, target: Path) -> None:
        self.root = target
        for stack_file in source.glob("*/cdk.tf.json"):
            (target / stack_file.parent.name).mkdir(parents=True)
            shutil.copy(stack_file, target / stack_file.parent.name / "cdk.tf.json")
        if (source.parent / "k8s").is_dir():  # an EKS environment's manifests sit next to its stacks
            shutil.copytree(source.parent / "k8s", target.parent / "k8s")

    def load(self, stack: str) -> dict[str, Any]:
        return json.loads((self.root / stack / "cdk.tf.json").read_text())

    def save(self, stack: str, document: dict[str, Any]) -> None:
        (self.root / stack / "cdk.tf.json").write_text(json.dumps(document, indent=2))


_DOCUMENT = re.compile(r"^\$\{data\.aws_iam_policy_document\.([^.}]+)\.json\}$")
Resolve = Callable[[Any], Any]
Edit = Callable[[list[dict[str, Any]], bool, Resolve], list[dict[str, Any]]]


def inventory_of(copy: StacksCopy) -> Inventory:
    return Inventory(Synthesized(copy.root))


def component_role(copy: StacksCopy, component: str) -> str:
    manifest = next(m for m in load_manifests() if m.component == component)
    deployment = locate(inventory_of(copy), manifest)
    assert deployment is not None, f"{component} is not deployed in {copy.root}"
    return deployment.role_arn


def edit_policy(copy: StacksCopy, block: Block, argument: str, edit: Edit) -> None:
    """Apply `edit(statements, tf_form, resolve)` to the policy that `block.argument` holds or references;
    `resolve` turns a value of the statements into what AWS would see."""
    resolver = inventory_of(copy).resolver
    document = copy.load(block.stack)
    raw = document["resource"][block.type][block.name][argument]
    reference = _DOCUMENT.match(raw) if isinstance(raw, str) else None
    if reference:
        data = document["data"]["aws_iam_policy_document"][reference[1]]
        data["statement"] = edit(data.get("statement", []), True, lambda value: resolver.resolve(block.stack, value))
    else:
        policy = json.loads(raw)
        statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
        policy["Statement"] = edit(statements, False, lambda value: resolver.resolve(block.stack, value))
        document["resource"][block.type][block.name][argument] = json.dumps(policy)
    copy.save(block.stack, document)


def identity_policy_blocks(copy: StacksCopy, role_arn: str) -> list[Block]:
    inventory = inventory_of(copy)
    role = inventory.find("aws_iam_role", role_arn)
    return [
        block
        for block in inventory.blocks("aws_iam_role_policy")
        if inventory.arg(block, "role") == inventory.arg(role, "name")
    ]


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else [value] if isinstance(value, str | dict) else list(value)


def _keys(tf_form: bool) -> tuple[str, str]:
    return ("actions", "resources") if tf_form else ("Action", "Resource")


def without_action(action: str, where: Callable[[list[str]], bool] = lambda resources: True) -> Edit:
    """Drop every granted action pattern that covers `action` (exact or wildcard) from statements whose
    resources satisfy `where`; statements left without actions go."""

    def edit(statements: list[dict[str, Any]], tf_form: bool, resolve: Resolve) -> list[dict[str, Any]]:
        actions_key, resources_key = _keys(tf_form)
        kept = []
        for statement in statements:
            actions = _as_list(statement.get(actions_key))
            if where([str(resolve(r)) for r in _as_list(statement.get(resources_key))]):
                actions = [pattern for pattern in actions if not fnmatch.fnmatchcase(action, pattern)]
            if actions or actions_key not in statement:
                kept.append({**statement, actions_key: actions} if actions_key in statement else statement)
        return kept

    return edit


def eni_grant_only_with_vpc_condition(
    statements: list[dict[str, Any]], tf_form: bool, resolve: Resolve
) -> list[dict[str, Any]]:
    """Defect 2: the one statement that grants ec2:CreateNetworkInterface on network-interface/* is conditioned
    on ec2:Vpc (other resources of the action keep their grants)."""
    actions_key, resources_key = _keys(tf_form)
    edited = []
    for statement in statements:
        actions = _as_list(statement.get(actions_key))
        resources = _as_list(statement.get(resources_key))
        grants_eni = any(fnmatch.fnmatchcase("ec2:CreateNetworkInterface", a) for a in actions) and any(
            "network-interface" in r or r == "*" for r in resources
        )
        if not grants_eni:
            edited.append(statement)
            continue
        others = [r for r in resources if "network-interface" not in r and r != "*"]
        rest = [a for a in actions if not fnmatch.fnmatchcase("ec2:CreateNetworkInterface", a)]
        if rest:
            edited.append({**statement, actions_key: rest})
        if others:
            sid_key = "sid" if tf_form else "Sid"
            edited.append(
                {
                    **statement,
                    actions_key: ["ec2:CreateNetworkInterface"],
                    resources_key: others,
                    sid_key: f"{statement.get(sid_key) or 'Statement'}OtherResources",
                }
            )
    vpc_condition = ("ArnLike", "ec2:Vpc", "arn:*:ec2:*:*:vpc/*")
    if tf_form:
        edited.append(
            {
                "sid": "NewInterfacesOnlyInVpc",
                "effect": "Allow",
                "actions": ["ec2:CreateNetworkInterface"],
                "resources": ["arn:*:ec2:*:*:network-interface/*"],
                "condition": [{"test": vpc_condition[0], "variable": vpc_condition[1], "values": [vpc_condition[2]]}],
            }
        )
    else:
        edited.append(
            {
                "Sid": "NewInterfacesOnlyInVpc",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": "arn:*:ec2:*:*:network-interface/*",
                "Condition": {vpc_condition[0]: {vpc_condition[1]: vpc_condition[2]}},
            }
        )
    return edited


def without_service_principal(service: str) -> Edit:
    """Drop the Allow statements that name `service` as a principal."""

    def names_service(statement: dict[str, Any], tf_form: bool) -> bool:
        if tf_form:
            return any(service in _as_list(p.get("identifiers")) for p in statement.get("principals") or [])
        principal = statement.get("Principal")
        return isinstance(principal, dict) and service in _as_list(principal.get("Service"))

    def edit(statements: list[dict[str, Any]], tf_form: bool, resolve: Resolve) -> list[dict[str, Any]]:
        effect = "effect" if tf_form else "Effect"
        return [s for s in statements if not ((s.get(effect) or "Allow") == "Allow" and names_service(s, tf_form))]

    return edit
