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


def _policy(doc) -> dict:
    return json.loads(only(doc, "aws_kms_key")["policy"])


def test_the_key_policy_lets_named_services_only_generate_data_keys_and_decrypt_for_this_account():
    policy = _policy(synth_with(lambda s: _key(s, service_principals=("sns.amazonaws.com",))))
    by_sid = {st["Sid"]: st for st in policy["Statement"]}
    assert by_sid["ServiceUse"]["Principal"] == {"Service": ["sns.amazonaws.com"]}
    assert by_sid["ServiceUse"]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert sorted(by_sid["ServiceUse"]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_cloudwatch_logs_may_use_the_key_only_for_the_log_groups_registered_with_it():
    def build(stack):
        key = _key(stack, region="eu-west-1")
        key.allow_log_group("/aws/lambda/b")
        key.allow_log_group("/aws/lambda/a")
        key.allow_log_group("/aws/lambda/a")  # registering twice changes nothing

    logs = {st["Sid"]: st for st in _policy(synth_with(build))["Statement"]}["CloudWatchLogsUse"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": [
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/a",
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/b",
            ]
        }
    }


def test_a_key_with_a_region_but_no_log_group_grants_cloudwatch_logs_nothing():
    policy = _policy(synth_with(lambda s: _key(s, region="eu-west-1")))
    assert [st["Sid"] for st in policy["Statement"]] == ["AccountAdministration"]


def test_a_log_group_without_a_plain_name_is_refused():
    with pytest.raises(ValueError, match="allow_log_group needs a log group with a plain name"):
        synth_with(lambda s: _key(s, region="eu-west-1").allow_log_group("${aws_cloudwatch_log_group.x.name}"))


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
