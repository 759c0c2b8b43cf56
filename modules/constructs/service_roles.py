"""Trust policies of the roles that AWS services assume on the pipeline's behalf."""

from __future__ import annotations

import json

from modules import aws
from modules.constructs.policy_statements import policy_document


def assume_role_policy(service: str, *, account_id: str | None = None) -> str:
    """SERVICE (e.g. `lambda.amazonaws.com`) may assume the role; with ACCOUNT_ID only on this account's behalf
    (the confused-deputy guard for services that act for many accounts, such as ECS tasks)."""
    trust: dict = {
        "Sid": "ServiceAssumesRole",
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"Service": service},
    }
    if account_id:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [trust]}, sort_keys=True)


def role_with_policy(
    scope, id_: str, *, name: str, service: str, description: str, statements: list, account_id: str | None = None
):
    """A role SERVICE assumes (with ACCOUNT_ID: only for this account) and its one inline policy of STATEMENTS
    (none when there are no statements). Returns (role, policy or None)."""
    role = aws.iam_role.IamRole(
        scope,
        id_,
        name=name,
        description=description,
        assume_role_policy=assume_role_policy(service, account_id=account_id),
    )
    policy = None
    if statements:
        policy = aws.iam_role_policy.IamRolePolicy(
            scope,
            f"{id_}-policy",
            name="least-privilege",
            role=role.id,
            policy=policy_document(scope, f"{id_}-document", statements).json,
        )
    return role, policy
