"""Trust policies of the roles that AWS services assume on the pipeline's behalf."""

from __future__ import annotations

import json


def assume_role_policy(service: str, *, account_id: str | None = None) -> str:
    """SERVICE (e.g. `lambda.amazonaws.com`) may assume the role; with ACCOUNT_ID only on this account's behalf
    (the confused-deputy guard for services that act for many accounts, such as ECS tasks)."""
    trust: dict = {"Sid": "ServiceAssumesRole", "Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"Service": service}}
    if account_id:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [trust]}, sort_keys=True)
