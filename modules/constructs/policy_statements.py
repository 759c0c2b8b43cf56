"""Typed IAM policy statements for `aws_iam_policy_document` (the provider's struct classes, so a misspelt
key is a TypeError at synth instead of a silently dropped condition).
"""

from __future__ import annotations

from dataclasses import dataclass

from modules import aws


@dataclass(frozen=True)
class Condition:
    """One `condition` block: TEST on VARIABLE against VALUES."""

    test: str
    variable: str
    values: tuple[str, ...]


def statement(
    sid: str,
    actions: list[str],
    resources: list[str],
    *,
    effect: str = "Allow",
    principals: dict[str, list[str]] | None = None,
    conditions: tuple[Condition, ...] = (),
) -> aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement:
    """A statement; PRINCIPALS maps a principal type (AWS, Service, *) to its identifiers."""
    return aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement(
        sid=sid,
        effect=effect,
        actions=actions,
        resources=resources,
        principals=[
            aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatementPrincipals(type=kind, identifiers=ids)
            for kind, ids in (principals or {}).items()
        ]
        or None,
        condition=[
            aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatementCondition(
                test=c.test, variable=c.variable, values=list(c.values)
            )
            for c in conditions
        ]
        or None,
    )


def deny_insecure_transport(
    resources: list[str], action: str = "*"
) -> aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement:
    """The statement every resource policy carries: no request over plain HTTP, from anyone."""
    return statement(
        "DenyInsecureTransport",
        [action],
        resources,
        effect="Deny",
        principals={"*": ["*"]},
        conditions=(Condition("Bool", "aws:SecureTransport", ("false",)),),
    )


def policy_document(scope, id_: str, statements: list) -> aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument:
    return aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument(scope, id_, statement=statements)
