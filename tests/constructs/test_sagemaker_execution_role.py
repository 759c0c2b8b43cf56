import json

import pytest

from modules.constructs.sagemaker_execution_role import SagemakerExecutionRole, SagemakerExecutionRoleProps
from tests.constructs.helpers import only, synth_with
from tests.constructs.sagemaker_fixtures import ACCOUNT, ARTIFACT_PREFIX, KEY, OTHER_KEY, REPOSITORY, TOPIC


def _role(stack, **overrides):
    props = {"role_name": "ep-sagemaker", "account_id": ACCOUNT, "region": "eu-west-1", "endpoint_name": "ep",
             "artifact_prefix_arn": ARTIFACT_PREFIX, "repository_arn": REPOSITORY, **overrides}
    return SagemakerExecutionRole(stack, "role", props=SagemakerExecutionRoleProps(**props))


def _statements(doc) -> dict:
    (document,) = doc["data"]["aws_iam_policy_document"].values()
    return {st["sid"]: st for st in document["statement"]}


def test_only_sagemaker_of_this_account_may_assume_the_role():
    trust = json.loads(only(synth_with(_role), "aws_iam_role")["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# Issue 16: instances of the previous configuration (scale-out during a blue/green shift, an automatic rollback)
# load the previous version, so the role reads every version of its one model, not only the current object.
def test_the_role_reads_the_versions_of_one_model_and_pulls_from_one_repository():
    by_sid = _statements(synth_with(_role))
    assert by_sid["ReadModelVersions"]["actions"] == ["s3:GetObject"]
    assert by_sid["ReadModelVersions"]["resources"] == [ARTIFACT_PREFIX]
    assert by_sid["PullInferenceImage"]["resources"] == [REPOSITORY]
    assert "ecr:BatchGetImage" in by_sid["PullInferenceImage"]["actions"]


def test_only_actions_without_resource_level_permissions_use_a_wildcard_resource():
    by_sid = _statements(synth_with(lambda s: _role(s, vpc_id="vpc-123")))
    wildcards = {sid: st["actions"] for sid, st in by_sid.items() if "*" in st["resources"]}
    assert wildcards == {
        "EcrAuthorizationToken": ["ecr:GetAuthorizationToken"],
        "PublishEndpointMetrics": ["cloudwatch:PutMetricData"],
        "DescribeNetwork": ["ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                            "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"]}


def test_logs_go_only_to_the_endpoints_own_log_group_with_the_actions_aws_documents_for_hosting():
    logs = _statements(synth_with(_role))["WriteEndpointLogs"]
    assert logs["actions"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                               "logs:DescribeLogStreams"]
    assert logs["resources"] == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep",
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep:*"]


# Part of defect 14: the role had no cloudwatch:PutMetricData, so the endpoint's instance metrics were lost.
def test_metrics_may_be_published_only_to_the_namespace_of_endpoint_instance_metrics():
    metrics = _statements(synth_with(_role))["PublishEndpointMetrics"]
    assert metrics["actions"] == ["cloudwatch:PutMetricData"]
    assert metrics["condition"] == [
        {"test": "StringEquals", "variable": "cloudwatch:namespace", "values": ["/aws/sagemaker/Endpoints"]}]


def test_keys_outputs_topics_and_vpc_are_granted_only_when_given():
    by_sid = _statements(synth_with(lambda s: _role(
        s, decrypt_key_arns=(KEY,), encrypt_key_arns=(KEY,), volume_key_arn=OTHER_KEY,
        read_prefix_arns=("arn:aws:s3:::results/async/input/*",),
        write_prefix_arns=("arn:aws:s3:::results/data-capture/*",), publish_topic_arns=(TOPIC,), vpc_id="vpc-123")))
    assert (by_sid["ReadInputs"]["actions"], by_sid["ReadInputs"]["resources"]) == (
        ["s3:GetObject"], ["arn:aws:s3:::results/async/input/*"])
    assert (by_sid["DecryptInputs"]["actions"], by_sid["DecryptInputs"]["resources"]) == (["kms:Decrypt"], [KEY])
    assert (by_sid["EncryptOutputs"]["actions"], by_sid["EncryptOutputs"]["resources"]) == (["kms:GenerateDataKey"], [KEY])
    grant = by_sid["GrantVolumeKeyToAwsResources"]
    assert grant["resources"] == [OTHER_KEY]
    assert grant["condition"][0]["variable"] == "kms:GrantIsForAWSResource"
    assert by_sid["WriteOutputs"]["resources"] == ["arn:aws:s3:::results/data-capture/*"]
    assert by_sid["PublishNotifications"]["resources"] == [TOPIC]
    enis = by_sid["ManageEndpointNetworkInterfaces"]
    assert enis["condition"][0]["values"] == ["arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-123"]
    assert by_sid["WriteOutputs"]["actions"] == ["s3:PutObject"]
    assert not {"ReadInputs", "DecryptInputs", "EncryptOutputs", "GrantVolumeKeyToAwsResources", "WriteOutputs", "PublishNotifications", "DescribeNetwork",
                "CreateNetworkInterfacesInEndpointVpc", "WatchRollbackAlarms"} & set(_statements(synth_with(_role)))


def test_the_role_describes_exactly_the_alarms_an_update_rolls_back_on():
    alarms = ("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:ep-Invocation5XXErrors",
              "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:ep-ModelLatency")
    watch = _statements(synth_with(lambda s: _role(s, rollback_alarm_arns=alarms)))["WatchRollbackAlarms"]
    assert (watch["actions"], watch["resources"]) == (["cloudwatch:DescribeAlarms"], list(alarms))


# From the service authorization reference for EC2 (Actions table, condition keys per resource type of each
# action; https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html). A statement
# whose condition names a key that the request does not carry for a resource never matches that resource.
ENI_CONDITION_KEYS = {
    ("ec2:CreateNetworkInterface", "network-interface"): {"aws:RequestTag/${TagKey}", "aws:TagKeys",
                                                          "ec2:NetworkInterfaceID"},
    ("ec2:CreateNetworkInterface", "subnet"): {"aws:ResourceTag/${TagKey}", "ec2:AvailabilityZone",
                                               "ec2:ResourceTag/${TagKey}", "ec2:SubnetID", "ec2:Vpc"},
    ("ec2:CreateNetworkInterface", "security-group"): {"aws:ResourceTag/${TagKey}", "ec2:ResourceTag/${TagKey}",
                                                       "ec2:SecurityGroupID", "ec2:Vpc"},
    **{(action, "network-interface"): {"aws:ResourceTag/${TagKey}", "ec2:AvailabilityZone",
                                       "ec2:NetworkInterfaceID", "ec2:ResourceTag/${TagKey}", "ec2:Subnet",
                                       "ec2:Vpc"}
       for action in ("ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission")},
    ("ec2:CreateNetworkInterfacePermission", "network-interface"): {
        "aws:ResourceTag/${TagKey}", "ec2:AuthorizedService", "ec2:AuthorizedUser", "ec2:AvailabilityZone",
        "ec2:NetworkInterfaceID", "ec2:Permission", "ec2:ResourceTag/${TagKey}", "ec2:Subnet", "ec2:Vpc"},
}


def _eni_grants(by_sid: dict) -> dict[tuple[str, str], list[str]]:
    """(action, resource type) -> condition keys of each statement that grants it."""
    grants: dict[tuple[str, str], list] = {}
    for st in by_sid.values():
        for action in st["actions"]:
            for resource in st["resources"]:
                resource_type = resource.rsplit(":", 1)[-1].split("/")[0]
                if (action, resource_type) in ENI_CONDITION_KEYS:
                    grants.setdefault((action, resource_type), []).append(
                        {c["variable"] for c in st.get("condition", [])})
    return grants


# Defect 2: CreateNetworkInterface on network-interface/* was conditioned on ec2:Vpc, which that resource never
# carries: implicitly denied, and CreateEndpoint failed.
def test_every_network_interface_call_is_granted_on_every_resource_type_it_is_authorized_on():
    grants = _eni_grants(_statements(synth_with(lambda s: _role(s, vpc_id="vpc-123"))))
    assert set(grants) == set(ENI_CONDITION_KEYS)
    for (action, resource_type), conditions in grants.items():
        matchable = [keys for keys in conditions if keys <= ENI_CONDITION_KEYS[(action, resource_type)]]
        assert matchable, f"{action} on {resource_type}: every statement needs a key it never carries {conditions}"


def test_network_interfaces_are_kept_to_the_endpoints_vpc_wherever_the_resource_names_it():
    grants = _eni_grants(_statements(synth_with(lambda s: _role(s, vpc_id="vpc-123"))))
    for (action, resource_type), conditions in grants.items():
        if "ec2:Vpc" in ENI_CONDITION_KEYS[(action, resource_type)]:
            assert all("ec2:Vpc" in keys for keys in conditions), f"{action} on {resource_type} unscoped"
    # The new interface names no VPC, but the same call is also authorized on its subnet and groups (above).
    assert grants[("ec2:CreateNetworkInterface", "network-interface")] == [set()]


def test_a_whole_bucket_for_the_model_or_the_outputs_and_a_wildcard_alarm_are_refused():
    with pytest.raises(ValueError) as error:
        synth_with(lambda s: _role(s, artifact_prefix_arn="arn:aws:s3:::artifacts/*",
                                   write_prefix_arns=("arn:aws:s3:::results/*",),
                                   read_prefix_arns=("arn:aws:s3:::results/*",),
                                   rollback_alarm_arns=("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*",)))
    assert "artifact_prefix_arn: 'arn:aws:s3:::artifacts/*' must be <bucket ARN>/models/<model name>/*" in str(error.value)
    assert "rollback_alarm_arns: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*' has a wildcard" in str(error.value)
    assert "read_prefix_arns: 'arn:aws:s3:::results/*' must be <bucket ARN>/<prefix>/*" in str(error.value)
    assert "write_prefix_arns: 'arn:aws:s3:::results/*' must be <bucket ARN>/<prefix>/*" in str(error.value)
