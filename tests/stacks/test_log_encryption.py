"""Every encrypted log group can really be created: CloudWatch Logs must be admitted by the key's policy for
exactly that log group (issue 11, defect 14: the grant used to cover every log group of the account)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ENVIRONMENTS, stack_dirs

KEY_REFERENCE = re.compile(r"^\$\{aws_kms_key\.([^.]+)\.arn\}$")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_key_admits_cloudwatch_logs_for_exactly_the_log_groups_it_encrypts(env, synthesized):
    checked = 0
    for stack in stack_dirs(synthesized[env]):
        resources = json.loads((stack / "cdk.tf.json").read_text()).get("resource", {})
        encrypted: dict[str, set[str]] = {}
        for group in resources.get("aws_cloudwatch_log_group", {}).values():
            match = KEY_REFERENCE.match(group.get("kms_key_id", ""))
            assert match, f"{env}/{stack.name}: log group {group['name']} is not encrypted with a key of its stack"
            encrypted.setdefault(match.group(1), set()).add(group["name"])
        for key_id, key in resources.get("aws_kms_key", {}).items():
            statements = {st["Sid"]: st for st in json.loads(key["policy"])["Statement"]}
            admitted = (
                statements.get("CloudWatchLogsUse", {})
                .get("Condition", {})
                .get("ArnEquals", {})
                .get("kms:EncryptionContext:aws:logs:arn", [])
            )
            admitted = {
                arn.split(":log-group:", 1)[1] for arn in ([admitted] if isinstance(admitted, str) else admitted)
            }
            assert admitted == encrypted.get(key_id, set()), f"{env}/{stack.name}: key {key_id}"
            checked += len(admitted)
    assert checked >= 5, "expected log groups in network, compute, inference and api"
