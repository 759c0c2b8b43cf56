"""A customer-managed KMS key with rotation, an alias and a key policy that names who may use it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from modules import aws, defaults


@dataclass(frozen=True, kw_only=True)
class KmsKeyProps:
    """What the key is for and which AWS services may use it."""

    alias: str  # alias name without the `alias/` prefix
    description: str  # shown in the console; say what the key protects
    account_id: str  # the owning account (token from aws_caller_identity)
    partition: str = "aws"  # token from aws_partition in stacks
    region: str = ""  # region whose CloudWatch Logs may use the key; empty: no logs grant
    service_principals: tuple[str, ...] = ()  # e.g. ("sns.amazonaws.com",): may encrypt/decrypt via the key
    deletion_window_in_days: int = defaults.KMS_DELETION_WINDOW_DAYS


class KmsKey(Construct):
    """Exposes `key`, `alias`, `arn`. Why a construct: every key needs the same rotation, window and policy."""

    def __init__(self, scope: Construct, id_: str, *, props: KmsKeyProps) -> None:
        super().__init__(scope, id_)
        if not 7 <= props.deletion_window_in_days <= 30:
            raise ValueError(f"{id_}: deletion_window_in_days must be 7-30, got {props.deletion_window_in_days}")
        self.key = aws.kms_key.KmsKey(
            self, "key",
            description=props.description,
            enable_key_rotation=defaults.KMS_KEY_ROTATION,
            deletion_window_in_days=props.deletion_window_in_days,
            policy=json.dumps(key_policy(props), sort_keys=True),
        )
        self.alias = aws.kms_alias.KmsAlias(self, "alias", name=f"alias/{props.alias}", target_key_id=self.key.key_id)
        self.arn = self.key.arn


def key_policy(props: KmsKeyProps) -> dict[str, Any]:
    """The key policy as a plain JSON document (a key policy, not an IAM policy: "*" resource means this key).

    The account root keeps administration so the key can never become unmanageable (as AWS's default policy);
    services get only the data-key operations, and only on behalf of this account.
    """
    same_account = {"StringEquals": {"aws:SourceAccount": props.account_id}}
    statements: list[dict[str, Any]] = [{
        "Sid": "AccountAdministration", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
        "Principal": {"AWS": f"arn:{props.partition}:iam::{props.account_id}:root"},
    }]
    if props.service_principals:
        statements.append({
            "Sid": "ServiceUse", "Effect": "Allow", "Resource": "*", "Condition": same_account,
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:Encrypt", "kms:ReEncrypt*", "kms:DescribeKey"],
            "Principal": {"Service": sorted(props.service_principals)},
        })
    if props.region:
        statements.append({
            "Sid": "CloudWatchLogsUse", "Effect": "Allow", "Resource": "*",
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Principal": {"Service": f"logs.{props.region}.amazonaws.com"},
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                      f"arn:{props.partition}:logs:{props.region}:{props.account_id}:*"}},
        })
    return {"Version": "2012-10-17", "Statement": statements}
