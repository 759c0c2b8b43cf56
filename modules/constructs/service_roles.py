"""The roles AWS services assume on the pipeline's behalf: a trust policy, an inline least-privilege policy, and
AWS managed policies only where AWS requires them (EKS).

Why functions and not a construct: every role, policy, document and attachment is created in the caller's scope
under the ids the caller has always used, so each keeps its logical ID and Terraform address, while how a service
role is put together lives here once. The ids default to `<id>`, `<id>-policy`, `<id>-document` and
`<id>-<managed policy>`; callers whose resources predate this module pass their own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from modules import aws
from modules.constructs.policy_statements import policy_document

LEAST_PRIVILEGE = "least-privilege"  # the inline policy's name unless a caller's role has always named it otherwise


def assume_role_policy(
    service: str, *, account_id: str | None = None, actions: str | Sequence[str] = "sts:AssumeRole"
) -> str:
    """SERVICE (e.g. `lambda.amazonaws.com`) may assume the role; with ACCOUNT_ID only on this account's behalf
    (the confused-deputy guard for services that act for many accounts, such as ECS tasks). ACTIONS as written
    into the document: a list where the service also needs e.g. sts:TagSession."""
    trust: dict = {
        "Sid": "ServiceAssumesRole",
        "Effect": "Allow",
        "Action": actions if isinstance(actions, str) else list(actions),
        "Principal": {"Service": service},
    }
    if account_id:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [trust]}, sort_keys=True)


class ServiceRole(NamedTuple):
    """What `role_with_policy` built: the role, its inline policy (None without statements), its attachments."""

    role: aws.iam_role.IamRole
    policy: aws.iam_role_policy.IamRolePolicy | None
    managed_policies: list[aws.iam_role_policy_attachment.IamRolePolicyAttachment]


def inline_policy(
    scope, id_: str, *, role: str, statements: list, name: str = LEAST_PRIVILEGE, document_id: str | None = None
) -> aws.iam_role_policy.IamRolePolicy:
    """The inline policy NAME of ROLE (its name or id) allowing STATEMENTS, as SCOPE/ID_ (its document as
    SCOPE/DOCUMENT_ID, default `<id_>-document`)."""
    document = policy_document(scope, document_id or f"{id_}-document", statements)
    return aws.iam_role_policy.IamRolePolicy(scope, id_, name=name, role=role, policy=document.json)


def role_with_policy(
    scope,
    id_: str,
    *,
    name: str,
    description: str,
    trust: str,
    statements: list,
    policy_name: str = LEAST_PRIVILEGE,
    policy_id: str | None = None,
    document_id: str | None = None,
    aws_managed_policies: Sequence[str] = (),
    partition: str = "aws",
) -> ServiceRole:
    """Role NAME as SCOPE/ID_, assumable as TRUST says (`assume_role_policy` or a caller's own document), with one
    inline policy of STATEMENTS (none when there are none) and the AWS_MANAGED_POLICIES (names under
    arn:PARTITION:iam::aws:policy/) attached."""
    role = aws.iam_role.IamRole(scope, id_, name=name, description=description, assume_role_policy=trust)
    managed = [
        aws.iam_role_policy_attachment.IamRolePolicyAttachment(
            scope, f"{id_}-{policy}", role=role.name, policy_arn=f"arn:{partition}:iam::aws:policy/{policy}"
        )
        for policy in aws_managed_policies
    ]
    policy = None
    if statements:
        policy = inline_policy(
            scope,
            policy_id or f"{id_}-policy",
            role=role.id,
            statements=statements,
            name=policy_name,
            document_id=document_id or f"{id_}-document",
        )
    return ServiceRole(role, policy, managed)
