import json
import re
import subprocess

import pytest

from modules.constructs.sagemaker_model import SagemakerModel, SagemakerModelProps
from tests.constructs.helpers import only, synth_with
from tests.constructs.sagemaker_fixtures import unhashed_arguments

ROLE = "arn:aws:iam::123456789012:role/ep-sagemaker"
IN_VPC = {"subnet_ids": ("subnet-a", "subnet-b"), "security_group_ids": ("sg-1",)}


def _props(**overrides) -> SagemakerModelProps:
    props = {
        "name_prefix": "ep",
        "image_repository_url": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/inf",
        "image_tag": "1.0.0",
        "artifact_bucket": "artifacts",
        "artifact_key": "models/inf/1.0.0/model.tar.gz",
        "execution_role_arn": ROLE,
        **overrides,
    }
    return SagemakerModelProps(**props)


def _model(stack, **overrides):
    return SagemakerModel(stack, "model", props=_props(**overrides))


def _synth(**overrides) -> dict:
    return only(synth_with(lambda s: _model(s, **overrides)), "aws_sagemaker_model")


def test_the_model_runs_the_tagged_image_with_the_artifact_and_no_network_by_default():
    model = _synth()
    assert model["primary_container"]["image"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/inf:1.0.0"
    assert model["primary_container"]["model_data_url"] == "s3://artifacts/models/inf/1.0.0/model.tar.gz"
    assert model["enable_network_isolation"] is True
    assert model["execution_role_arn"] == ROLE
    assert "vpc_config" not in model


def test_a_digest_pins_the_image_by_digest():
    digest = "sha256:" + "a" * 64
    assert _synth(image_tag=digest)["primary_container"]["image"].endswith(f"/inf@{digest}")


def test_the_name_is_the_prefix_and_a_hash_terraform_computes_and_the_new_model_comes_first():
    model = _synth(**IN_VPC)
    assert model["lifecycle"] == {"create_before_destroy": True}
    assert re.fullmatch(r"ep-\$\{substr\(sha1\(jsonencode\(\{.*\}\)\), 0, 10\)\}", model["name"])
    assert _synth(**IN_VPC)["name"] == model["name"]  # stable across synths


# Defect 8: every input that forces a new model must rename it, or create_before_destroy creates the new model
# under the old name ("already exists"). Role, subnets and security groups are references at synth: today's
# Python hash left them out.
@pytest.mark.parametrize(
    "change",
    [
        {"image_tag": "1.0.1"},
        {"artifact_key": "models/inf/1.0.1/model.tar.gz"},  # a new model version (defect 7)
        {"execution_role_arn": "arn:aws:iam::123456789012:role/ep-sagemaker-v2"},
        {"subnet_ids": ("subnet-a", "subnet-c")},
        {"security_group_ids": ("sg-2",)},
        {"network_isolation": False},
        {"environment": {"LOG_LEVEL": "DEBUG"}},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_change_in_any_input_that_replaces_the_model_changes_its_name(change):
    assert _synth(**{**IN_VPC, **change})["name"] != _synth(**IN_VPC)["name"]


@pytest.mark.parametrize(
    "overrides",
    [{}, IN_VPC, {"environment": {"LOG_LEVEL": "INFO", "A": "b"}}],
    ids=["minimal", "in-vpc", "environment"],
)
def test_every_argument_of_the_model_is_hashed_into_its_name(overrides):
    assert unhashed_arguments(_synth(**overrides)) == []


def test_the_name_hashes_the_value_of_a_reference_not_its_text():
    def build(stack):
        from modules import aws

        role = aws.iam_role.IamRole(stack, "role", name="ep-sagemaker", assume_role_policy="{}")
        SagemakerModel(stack, "model", props=_props(execution_role_arn=role.arn))

    model = only(synth_with(build), "aws_sagemaker_model")
    (role_id,) = synth_with(build)["resource"]["aws_iam_role"]
    # A bare reference inside the hashed expression: Terraform hashes the ARN the role has at apply time.
    assert f'"execution_role_arn" = aws_iam_role.{role_id}.arn' in model["name"]


@pytest.mark.terraform
def test_terraform_evaluates_the_name_to_a_valid_sagemaker_name_that_follows_the_role(terraform, tmp_path):
    def evaluated(role_arn: str) -> str:
        template = _synth(execution_role_arn=role_arn, **IN_VPC)["name"]  # an HCL template, as Terraform reads it
        result = subprocess.run(
            [str(terraform.binary), "console"],
            input=f'"{template}"\n',
            cwd=tmp_path,
            env=terraform.env(),
            text=True,
            capture_output=True,
            timeout=120,
            check=True,
        )
        return json.loads(result.stdout.strip())

    first, second = evaluated(ROLE), evaluated("arn:aws:iam::123456789012:role/other")
    assert re.fullmatch(r"ep-[0-9a-f]{10}", first) and re.fullmatch(r"ep-[0-9a-f]{10}", second)
    assert first != second


def test_a_bad_artifact_and_half_a_vpc_are_refused_together():
    with pytest.raises(ValueError) as error:
        synth_with(lambda s: _model(s, artifact_key="model.zip", subnet_ids=("subnet-a",)))
    assert "artifact_key must name a .tar.gz archive" in str(error.value)
    assert "subnet_ids and security_group_ids go together" in str(error.value)
