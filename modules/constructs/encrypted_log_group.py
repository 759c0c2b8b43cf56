"""The log group every construct writes to: finite retention (one of CloudWatch's values) under a customer key.

Why one function and not a construct: the group is created in the caller's scope under the caller's id, so every
existing group keeps its logical ID and Terraform address, while the rule (retention checked against
`modules.limits`, always a key) lives here once. Register the group with its key (`KmsKey.allow_log_group`) in the
stack that owns the key: the key policy must name each group that may use it.
"""

from __future__ import annotations

from constructs import Construct

from modules import aws
from modules.limits import retention_problem


def encrypted_log_group(
    scope: Construct, id_: str, *, name: str, retention_days: int, kms_key_arn: str
) -> aws.cloudwatch_log_group.CloudwatchLogGroup:
    """A CloudWatch log group NAME with RETENTION_DAYS under KMS_KEY_ARN, created as SCOPE/ID_."""
    return aws.cloudwatch_log_group.CloudwatchLogGroup(
        scope, id_, name=name, retention_in_days=retention_days, kms_key_id=kms_key_arn
    )


def log_group_problems(field: str, retention_days: int) -> list[str]:
    """What a construct's validation reports about its log group (FIELD names the retention prop)."""
    problem = retention_problem(retention_days)
    return [f"{field} {problem}, got {retention_days}"] if problem else []
