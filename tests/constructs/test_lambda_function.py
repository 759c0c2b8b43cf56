import json

import pytest

from modules.constructs.lambda_function import LambdaFunction, LambdaFunctionProps
from modules.constructs.policy_statements import statement
from tests.constructs.helpers import only, synth_with

KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"


def _function(stack, **overrides):
    props = {
        "function_name": "p-submit",
        "handler": "lambdas.submit.handler.handler",
        "package_path": "a.zip",
        "source_code_hash": "aGFzaA==",
        "kms_key_arn": KEY,
        "account_id": "123456789012",
        "region": "eu-west-1",
        "log_retention_days": 30,
        "memory_mb": 256,
        "timeout_seconds": 30,
        **overrides,
    }
    return LambdaFunction(stack, "fn", props=LambdaFunctionProps(**props))


def _policy(doc, name="fn_policy"):
    documents = doc["data"]["aws_iam_policy_document"]
    return next(v for k, v in documents.items() if k.startswith(name))["statement"]


def test_a_function_traces_and_encrypts_its_environment_and_reserves_no_concurrency_by_default():
    fn = only(synth_with(lambda s: _function(s, environment={"B": "2", "A": "1"})), "aws_lambda_function")
    assert fn["tracing_config"] == {"mode": "Active"}
    assert fn["kms_key_arn"] == KEY
    # A reservation fails on accounts whose quota leaves under 100 unreserved executions: opt-in only.
    assert "reserved_concurrent_executions" not in fn
    assert fn["runtime"] == "python3.12"
    assert fn["environment"] == {"variables": {"A": "1", "B": "2"}}
    assert fn["source_code_hash"] == "aGFzaA=="


def test_a_reservation_is_rendered_when_asked_for():
    fn = only(synth_with(lambda s: _function(s, reserved_concurrency=5)), "aws_lambda_function")
    assert fn["reserved_concurrent_executions"] == 5


def test_a_function_has_its_own_encrypted_log_group_with_finite_retention_created_first():
    doc = synth_with(lambda s: _function(s, log_retention_days=14))
    group = only(doc, "aws_cloudwatch_log_group")
    assert group == {**group, "name": "/aws/lambda/p-submit", "retention_in_days": 14, "kms_key_id": KEY}
    assert any(dep.startswith("aws_cloudwatch_log_group.") for dep in only(doc, "aws_lambda_function")["depends_on"])


def test_the_role_allows_logs_on_its_own_group_traces_and_only_the_given_grants():
    grant = statement("Publish", ["sns:Publish"], ["arn:aws:sns:eu-west-1:123456789012:t"])
    doc = synth_with(lambda s: _function(s, policy_statements=(grant,)))
    statements = {st["sid"]: st for st in _policy(doc)}
    assert set(statements) == {"OwnLogGroupOnly", "XRayTraces", "DecryptOwnEnvironment", "Publish"}
    assert statements["OwnLogGroupOnly"]["resources"][0].endswith(".arn}:*")
    assert statements["Publish"]["resources"] == ["arn:aws:sns:eu-west-1:123456789012:t"]
    trust = json.loads(only(doc, "aws_iam_role")["assume_role_policy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def _in_vpc(stack):
    return _function(stack, subnet_ids=["subnet-1"], security_group_ids=["sg-1"], vpc_id="vpc-1")


def test_in_the_vpc_the_interface_grants_name_the_subnets_and_group():
    doc = synth_with(_in_vpc)
    assert only(doc, "aws_lambda_function")["vpc_config"] == {
        "subnet_ids": ["subnet-1"],
        "security_group_ids": ["sg-1"],
    }
    create = next(st for st in _policy(doc) if st["sid"] == "VpcInterfacesCreateInOwnSubnets")
    assert create["resources"] == [
        "arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-1",
        "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-1",
    ]


def test_each_interface_grant_is_conditioned_only_on_keys_its_resource_type_carries():
    """A new network-interface carries no ec2:Vpc/ec2:Subnet (a condition on them would deny every create);
    subnets and security groups carry ec2:Vpc; an existing network-interface carries both."""
    statements = {st["sid"]: st for st in _policy(synth_with(_in_vpc))}
    vpc = "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1"
    assert statements["VpcInterfacesCreate"]["resources"] == ["arn:aws:ec2:eu-west-1:123456789012:network-interface/*"]
    assert "condition" not in statements["VpcInterfacesCreate"]
    assert {
        (c["variable"], tuple(c["values"])) for c in statements["VpcInterfacesCreateInOwnSubnets"]["condition"]
    } == {("ec2:Vpc", (vpc,))}
    assert {(c["variable"], tuple(c["values"])) for c in statements["VpcInterfacesManage"]["condition"]} == {
        ("ec2:Vpc", (vpc,)),
        ("ec2:Subnet", ("arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-1",)),
    }


def test_outside_the_vpc_there_are_no_interface_grants():
    doc = synth_with(_function)
    assert "vpc_config" not in only(doc, "aws_lambda_function")
    assert not [st for st in _policy(doc) if st["sid"].startswith("Vpc")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("memory_mb", 127, "memory_mb must be 128-10240, got 127"),
        ("memory_mb", 10241, "memory_mb must be 128-10240, got 10241"),
        ("timeout_seconds", 0, "timeout_seconds must be 1-900, got 0"),
        ("timeout_seconds", 901, "timeout_seconds must be 1-900, got 901"),
        ("runtime", "python3.8", "runtime must be one of python3.12, python3.13"),
        ("log_retention_days", 10, "log_retention_days must be one of"),
        ("reserved_concurrency", -1, "reserved_concurrency must be >= 0"),
        ("subnet_ids", ["subnet-1"], "subnet_ids, security_group_ids and vpc_id go together"),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda s: _function(s, **{field: value}))


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValueError, match="memory_mb.*timeout_seconds"):
        synth_with(lambda s: _function(s, memory_mb=1, timeout_seconds=0))
