import json

import pytest

from modules.constructs.kms_key import KmsKey, KmsKeyProps
from tests.constructs.helpers import only, synth_with


def _key(stack, **overrides):
    props = {"alias": "a", "description": "d", "account_id": "123456789012", **overrides}
    return KmsKey(stack, "key", props=KmsKeyProps(**props))


def test_a_key_rotates_and_keeps_the_longest_deletion_window():
    key = only(synth_with(_key), "aws_kms_key")
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] == 30


def test_the_key_policy_lets_named_services_use_the_key_only_for_this_account():
    doc = synth_with(lambda s: _key(s, service_principals=("sns.amazonaws.com",), region="eu-west-1"))
    policy = json.loads(only(doc, "aws_kms_key")["policy"])
    by_sid = {st["Sid"]: st for st in policy["Statement"]}
    assert by_sid["ServiceUse"]["Principal"] == {"Service": ["sns.amazonaws.com"]}
    assert by_sid["ServiceUse"]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert "kms:*" not in by_sid["ServiceUse"]["Action"]
    assert by_sid["CloudWatchLogsUse"]["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}


def test_without_services_only_the_account_administers_the_key():
    policy = json.loads(only(synth_with(_key), "aws_kms_key")["policy"])
    assert [st["Sid"] for st in policy["Statement"]] == ["AccountAdministration"]


def test_the_alias_names_the_key():
    alias = only(synth_with(lambda s: _key(s, alias="inference-local-ecr")), "aws_kms_alias")
    assert alias["name"] == "alias/inference-local-ecr"


@pytest.mark.parametrize("days", [6, 31])
def test_a_deletion_window_outside_7_to_30_days_is_refused(days):
    with pytest.raises(ValueError, match=f"deletion_window_in_days must be 7-30, got {days}"):
        synth_with(lambda s: _key(s, deletion_window_in_days=days))
