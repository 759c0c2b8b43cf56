"""A customer-managed KMS key with rotation, an alias and a key policy that names who may use it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from modules import aws, defaults

# What a service principal does with a customer key for the pipeline: envelope encryption, i.e. data keys and
# decrypt. Nothing else: SNS, SQS, CloudWatch alarms and CloudWatch Logs never call Encrypt or ReEncrypt with
# our keys. AWS's example key policy for log groups lists kms:Encrypt*, ReEncrypt* and Describe* as well
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html), but its own managed
# policy for Logs' KMS use grants GenerateDataKey and Decrypt under the log group's encryption context, and
# DescribeKey without one (CloudWatchLogsAPIKeyAccess); a DescribeKey request carries no encryption context, so
# the conditioned statement below could never grant it anyway. tools/access_check proves the two suffice.
SERVICE_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


@dataclass(frozen=True, kw_only=True)
class KmsKeyProps:
    """What the key is for and which AWS services may use it."""

    alias: str  # alias name without the `alias/` prefix
    description: str  # shown in the console; say what the key protects
    account_id: str  # the owning account (token from aws_caller_identity)
    partition: str = "aws"  # token from aws_partition in stacks
    region: str = ""  # region of the log groups that may use the key (allow_log_group); empty: no logs grant
    service_principals: tuple[str, ...] = ()  # e.g. ("sns.amazonaws.com",): may generate data keys and decrypt
    deletion_window_in_days: int = defaults.KMS_DELETION_WINDOW_DAYS


class KmsKey(Construct):
    """Exposes `key`, `alias`, `arn` and `allow_log_group(log_group)`. Why a construct: every key needs the same
    rotation, window and policy."""

    def __init__(self, scope: Construct, id_: str, *, props: KmsKeyProps) -> None:
        super().__init__(scope, id_)
        if not 7 <= props.deletion_window_in_days <= 30:
            raise ValueError(f"{id_}: deletion_window_in_days must be 7-30, got {props.deletion_window_in_days}")
        self._props = props
        self._log_group_names: list[str] = []
        self.key = aws.kms_key.KmsKey(
            self,
            "key",
            description=props.description,
            enable_key_rotation=defaults.KMS_KEY_ROTATION,
            deletion_window_in_days=props.deletion_window_in_days,
            # Rendered again by each allow_log_group(): a plain string, not a Lazy rendered at synth, because cdktf
            # would call a Python producer back at every resolve (two round trips to the jsii process per key).
            policy=self._policy_json(),
        )
        self.alias = aws.kms_alias.KmsAlias(self, "alias", name=f"alias/{props.alias}", target_key_id=self.key.key_id)
        self.arn = self.key.arn

    def allow_log_group(self, log_group: Any) -> None:
        """Let CloudWatch Logs use this key for LOG_GROUP (an aws_cloudwatch_log_group, or its plain name) only.

        Why per group: the encryption context names the log group, so the key policy can admit exactly the
        groups this key encrypts instead of every log group in the account.
        """
        if not self._props.region:
            raise ValueError(f"{self.node.id}: allow_log_group needs the key's region (KmsKeyProps.region)")
        name = log_group if isinstance(log_group, str) else log_group.name_input
        if not isinstance(name, str) or not name or "${" in name:
            raise ValueError(f"{self.node.id}: allow_log_group needs a log group with a plain name, got {name!r}")
        if name not in self._log_group_names:
            self._log_group_names.append(name)
            self.key.policy = self._policy_json()

    @property
    def log_group_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._log_group_names))

    def policy(self) -> dict[str, Any]:
        return key_policy(self._props, self.log_group_names)

    def _policy_json(self) -> str:
        return json.dumps(self.policy(), sort_keys=True)


def key_policy(props: KmsKeyProps, log_group_names: tuple[str, ...] = ()) -> dict[str, Any]:
    """The key policy as a plain JSON document (a key policy, not an IAM policy: "*" resource means this key).

    The account root keeps administration so the key can never become unmanageable (as AWS's default policy);
    services get only the data-key operations, only on behalf of this account, and CloudWatch Logs only for
    the named log groups.
    """
    same_account = {"StringEquals": {"aws:SourceAccount": props.account_id}}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountAdministration",
            "Effect": "Allow",
            "Action": "kms:*",
            "Resource": "*",
            "Principal": {"AWS": f"arn:{props.partition}:iam::{props.account_id}:root"},
        }
    ]
    if props.service_principals:
        statements.append(
            {
                "Sid": "ServiceUse",
                "Effect": "Allow",
                "Resource": "*",
                "Condition": same_account,
                "Action": list(SERVICE_KEY_ACTIONS),
                "Principal": {"Service": sorted(props.service_principals)},
            }
        )
    if log_group_names:
        arns = [
            f"arn:{props.partition}:logs:{props.region}:{props.account_id}:log-group:{name}" for name in log_group_names
        ]
        statements.append(
            {
                "Sid": "CloudWatchLogsUse",
                "Effect": "Allow",
                "Resource": "*",
                "Action": list(SERVICE_KEY_ACTIONS),
                "Principal": {"Service": f"logs.{props.region}.amazonaws.com"},
                "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arns[0] if len(arns) == 1 else arns}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
