"""Policy documents: `aws_iam_policy_document` data sources rendered the way the AWS provider renders them,
policy strings parsed, and Lambda permissions turned into the resource-policy statements Lambda stores.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tools.access_check.stacks import Block, InputError

if TYPE_CHECKING:
    from tools.access_check.expressions import Resolver

VERSION = "2012-10-17"


def string_list(values: list[Any] | str) -> str | list[str]:
    """One value stays a string; several are reverse-sorted (the provider's `policyDecodeConfigStringList`)."""
    items = [values] if isinstance(values, str) else [str(value) for value in values]
    return items[0] if len(items) == 1 else sorted(items, reverse=True)


def _principals(blocks: list[dict[str, Any]]) -> str | dict[str, Any]:
    if len(blocks) == 1 and blocks[0].get("type") == "*":
        return "*"
    merged: dict[str, list[str]] = {}
    for block in blocks:
        merged.setdefault(block["type"], []).extend(str(item) for item in block.get("identifiers", []))
    return {kind: string_list(identifiers) for kind, identifiers in merged.items()}


def render_statement(statement: dict[str, Any]) -> dict[str, Any]:
    """One `statement` block (already resolved) as an IAM policy statement."""
    rendered: dict[str, Any] = {}
    if statement.get("sid"):
        rendered["Sid"] = statement["sid"]
    rendered["Effect"] = statement.get("effect") or "Allow"
    for source, target in (
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ):
        if statement.get(source):
            rendered[target] = string_list(statement[source])
    for source, target in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        if statement.get(source):
            rendered[target] = _principals(statement[source])
    conditions: dict[str, dict[str, list[str]]] = {}
    for condition in statement.get("condition") or []:
        values = conditions.setdefault(condition["test"], {}).setdefault(condition["variable"], [])
        values.extend(str(value) for value in condition.get("values", []))
    if conditions:
        rendered["Condition"] = {
            test: {key: string_list(values) for key, values in keys.items()} for test, keys in conditions.items()
        }
    return rendered


def render(resolver: Resolver, block: Block) -> dict[str, Any]:
    """An `aws_iam_policy_document` data source as the policy JSON the provider would produce."""
    body = resolver.resolve(block.stack, block.body)
    statements: list[dict[str, Any]] = []
    for source in body.get("source_policy_documents") or []:
        statements = _merge_by_sid(statements, parse(source, f"{block}.source_policy_documents")["Statement"])
    own = [render_statement(item) for item in body.get("statement") or []]
    sids = [statement["Sid"] for statement in own if statement.get("Sid")]
    duplicates = sorted({sid for sid in sids if sids.count(sid) > 1})
    if duplicates:
        raise InputError(f"{block}: duplicate Sid {', '.join(duplicates)} (the AWS provider refuses this document)")
    statements = _merge_by_sid(statements, own)
    for override in body.get("override_policy_documents") or []:
        statements = _merge_by_sid(statements, parse(override, f"{block}.override_policy_documents")["Statement"])
    document: dict[str, Any] = {"Version": body.get("version") or VERSION}
    if body.get("policy_id"):
        document["Id"] = body["policy_id"]
    document["Statement"] = statements
    return document


def render_json(resolver: Resolver, block: Block) -> str:
    return json.dumps(render(resolver, block))


def _merge_by_sid(current: list[dict[str, Any]], later: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Later statements replace earlier ones with the same Sid; statements without a Sid are appended."""
    merged = list(current)
    for statement in later:
        sid = statement.get("Sid")
        same = [index for index, existing in enumerate(merged) if sid and existing.get("Sid") == sid]
        if same:
            merged[same[0]] = statement
        else:
            merged.append(statement)
    return merged


def parse(policy: Any, where: str) -> dict[str, Any]:
    """A policy given as a (resolved) JSON string or object, with `Statement` always a list."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as error:
            raise InputError(f"{where}: policy is not JSON ({error})") from error
    if not isinstance(policy, dict) or "Statement" not in policy:
        raise InputError(f"{where}: not a policy document")
    statements = policy["Statement"]
    return {**policy, "Statement": statements if isinstance(statements, list) else [statements]}


def lambda_permission_statement(resolver: Resolver, block: Block, function_arn: str) -> dict[str, Any]:
    """The statement Lambda adds to the function policy for an `aws_lambda_permission` (AddPermission)."""
    body = resolver.resolve(block.stack, block.body)
    principal = body["principal"]
    kind = "Service" if principal.endswith(".amazonaws.com") else "AWS"
    statement: dict[str, Any] = {
        "Sid": body.get("statement_id") or block.name,
        "Effect": "Allow",
        "Principal": {kind: principal},
        "Action": body["action"],
        "Resource": function_arn + (f":{body['qualifier']}" if body.get("qualifier") else ""),
    }
    conditions: dict[str, dict[str, str]] = {}
    if body.get("source_arn"):
        conditions["ArnLike"] = {"AWS:SourceArn": body["source_arn"]}
    if body.get("source_account"):
        conditions["StringEquals"] = {"AWS:SourceAccount": body["source_account"]}
    if body.get("principal_org_id"):
        conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = body["principal_org_id"]
    if body.get("function_url_auth_type"):
        conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = body["function_url_auth_type"]
    if conditions:
        statement["Condition"] = conditions
    return statement
