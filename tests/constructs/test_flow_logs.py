import pytest

from modules.constructs.flow_logs import VpcFlowLogs, VpcFlowLogsProps
from tests.constructs.helpers import only, synth_with

KEY = "arn:aws:kms:eu-west-1:123456789012:key/abc"


def _flow_logs(stack, **overrides):
    props = {
        "vpc_id": "vpc-1",
        "log_group_name": "/aws/vpc/x/flow-logs",
        "retention_days": 30,
        "kms_key_arn": KEY,
        "role_name": "x-flow-logs",
        "account_id": "123456789012",
        "region": "eu-west-1",
        "max_aggregation_interval": 600,
        **overrides,
    }
    return VpcFlowLogs(stack, "flow-logs", props=VpcFlowLogsProps(**props))


@pytest.fixture(scope="module")
def default_flow_logs():
    return synth_with(_flow_logs)


def _document(doc, name):
    return next(d for key, d in doc["data"]["aws_iam_policy_document"].items() if f"_{name}_" in key)


def test_all_traffic_goes_to_an_encrypted_log_group_with_finite_retention(default_flow_logs):
    group = only(default_flow_logs, "aws_cloudwatch_log_group")
    assert group["retention_in_days"] == 30 and group["kms_key_id"] == KEY
    flow_log = only(default_flow_logs, "aws_flow_log")
    assert flow_log["traffic_type"] == "ALL" and flow_log["vpc_id"] == "vpc-1"
    assert flow_log["log_destination_type"] == "cloud-watch-logs"


def test_only_the_flow_logs_service_of_this_account_may_assume_the_role(default_flow_logs):
    trust = _document(default_flow_logs, "trust")["statement"][0]
    assert trust["principals"] == [{"type": "Service", "identifiers": ["vpc-flow-logs.amazonaws.com"]}]
    assert {c["variable"]: c["values"] for c in trust["condition"]} == {
        "aws:SourceAccount": ["123456789012"],
        "aws:SourceArn": ["arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*"],
    }
    assert "resources" not in trust


def test_the_role_writes_only_to_its_own_log_group(default_flow_logs):
    write = _document(default_flow_logs, "write")["statement"][0]
    assert all("aws_cloudwatch_log_group" in resource for resource in write["resources"])
    assert "*" not in write["resources"]


def test_the_role_may_look_up_log_groups_as_the_flow_logs_service_requires(default_flow_logs):
    statements = {st["sid"]: st for st in _document(default_flow_logs, "write")["statement"]}
    assert statements["FindLogGroup"]["actions"] == ["logs:DescribeLogGroups"]
    assert statements["FindLogGroup"]["resources"] == ["*"]  # the action has no resource-level permissions


def test_every_bad_setting_is_named_in_one_error():
    with pytest.raises(ValueError) as error:
        synth_with(
            lambda s: _flow_logs(s, retention_days=8, traffic_type="SOME", max_aggregation_interval=5, kms_key_arn="")
        )
    message = str(error.value)
    for part in (
        "retention_days must be one of the CloudWatch retention values 1, 3, 5, 7",
        "got 8",
        "traffic_type must be one of ALL, ACCEPT, REJECT",
        "max_aggregation_interval must be one of 60, 600, got 5",
        "kms_key_arn is required",
    ):
        assert part in message
