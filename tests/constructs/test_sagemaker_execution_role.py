import json

import pytest

from modules.constructs.sagemaker_execution_role import SagemakerExecutionRole, SagemakerExecutionRoleProps
from tests.constructs.helpers import only, synth_with
from tests.constructs.sagemaker_fixtures import ACCOUNT, ARTIFACT, KEY, REPOSITORY, TOPIC


def _role(stack, **overrides):
    props = {"role_name": "ep-sagemaker", "account_id": ACCOUNT, "region": "eu-west-1", "endpoint_name": "ep",
             "artifact_object_arn": ARTIFACT, "repository_arn": REPOSITORY, **overrides}
    return SagemakerExecutionRole(stack, "role", props=SagemakerExecutionRoleProps(**props))


def _statements(doc) -> dict:
    (document,) = doc["data"]["aws_iam_policy_document"].values()
    return {st["sid"]: st for st in document["statement"]}


def test_only_sagemaker_of_this_account_may_assume_the_role():
    trust = json.loads(only(synth_with(_role), "aws_iam_role")["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_role_reads_one_artifact_object_and_pulls_from_one_repository():
    by_sid = _statements(synth_with(_role))
    assert by_sid["ReadModelArtifact"]["actions"] == ["s3:GetObject"]
    assert by_sid["ReadModelArtifact"]["resources"] == [ARTIFACT]
    assert by_sid["PullInferenceImage"]["resources"] == [REPOSITORY]
    assert "ecr:BatchGetImage" in by_sid["PullInferenceImage"]["actions"]


def test_only_the_authorization_token_uses_a_wildcard_resource_as_aws_requires():
    by_sid = _statements(synth_with(_role))
    wildcards = {sid for sid, st in by_sid.items() if "*" in st["resources"]}
    assert wildcards == {"EcrAuthorizationToken"}
    assert by_sid["EcrAuthorizationToken"]["actions"] == ["ecr:GetAuthorizationToken"]


def test_logs_go_only_to_the_endpoints_own_log_group():
    logs = _statements(synth_with(_role))["WriteEndpointLogs"]
    assert logs["resources"] == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep",
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep:log-stream:*"]


def test_keys_outputs_topics_and_vpc_are_granted_only_when_given():
    by_sid = _statements(synth_with(lambda s: _role(
        s, kms_key_arns=(KEY,), write_prefix_arns=("arn:aws:s3:::results/data-capture/*",),
        publish_topic_arns=(TOPIC,), vpc_id="vpc-123")))
    assert by_sid["UseKeys"]["resources"] == [KEY]
    assert by_sid["GrantKeysToAwsResources"]["condition"][0]["variable"] == "kms:GrantIsForAWSResource"
    assert by_sid["WriteOutputs"]["resources"] == ["arn:aws:s3:::results/data-capture/*"]
    assert by_sid["PublishNotifications"]["resources"] == [TOPIC]
    enis = by_sid["ManageEndpointNetworkInterfaces"]
    assert enis["condition"][0]["values"] == ["arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-123"]
    assert not {"UseKeys", "WriteOutputs", "PublishNotifications", "DescribeNetwork"} & set(_statements(synth_with(_role)))


def test_a_wildcard_artifact_and_a_whole_bucket_output_are_refused():
    with pytest.raises(ValueError) as error:
        synth_with(lambda s: _role(s, artifact_object_arn="arn:aws:s3:::artifacts/*",
                                   write_prefix_arns=("arn:aws:s3:::results/*",)))
    assert "artifact_object_arn must name one object" in str(error.value)
    assert "write_prefix_arns: 'arn:aws:s3:::results/*' must be <bucket ARN>/<prefix>/*" in str(error.value)
