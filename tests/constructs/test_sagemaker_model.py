import pytest

from modules.constructs.content_hash import content_hash
from modules.constructs.sagemaker_model import SagemakerModel, SagemakerModelProps, model_knobs
from tests.constructs.helpers import only, synth_with

ROLE = "arn:aws:iam::123456789012:role/ep-sagemaker"


def _props(**overrides) -> SagemakerModelProps:
    props = {"name_prefix": "ep", "image_repository_url": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/inf",
             "image_tag": "1.0.0", "artifact_bucket": "artifacts", "artifact_key": "models/model.tar.gz",
             "execution_role_arn": ROLE, **overrides}
    return SagemakerModelProps(**props)


def _model(stack, **overrides):
    return SagemakerModel(stack, "model", props=_props(**overrides))


def test_the_model_runs_the_tagged_image_with_the_artifact_and_no_network_by_default():
    model = only(synth_with(_model), "aws_sagemaker_model")
    assert model["primary_container"]["image"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/inf:1.0.0"
    assert model["primary_container"]["model_data_url"] == "s3://artifacts/models/model.tar.gz"
    assert model["enable_network_isolation"] is True
    assert model["execution_role_arn"] == ROLE
    assert "vpc_config" not in model


def test_a_digest_pins_the_image_by_digest():
    digest = "sha256:" + "a" * 64
    model = only(synth_with(lambda s: _model(s, image_tag=digest)), "aws_sagemaker_model")
    assert model["primary_container"]["image"].endswith(f"/inf@{digest}")


def test_the_name_changes_with_image_or_artifact_and_the_new_model_comes_first():
    model = only(synth_with(_model), "aws_sagemaker_model")
    assert model["lifecycle"] == {"create_before_destroy": True}
    base = model_knobs(_props())
    assert model["name"] == f"ep-{content_hash(base)}"
    assert content_hash(model_knobs(_props(image_tag="1.0.1"))) != content_hash(base)
    assert content_hash(model_knobs(_props(artifact_key="models/v2.tar.gz"))) != content_hash(base)
    assert content_hash(model_knobs(_props())) == content_hash(base)  # stable across calls


def test_the_vpc_attachment_uses_the_given_subnets_and_group():
    model = only(synth_with(lambda s: _model(s, subnet_ids=("subnet-a", "subnet-b"), security_group_ids=("sg-1",))),
                 "aws_sagemaker_model")
    assert model["vpc_config"] == {"subnets": ["subnet-a", "subnet-b"], "security_group_ids": ["sg-1"]}


def test_hashing_a_terraform_token_is_refused():
    from cdktf import Token

    with pytest.raises(ValueError, match="tokens"):
        content_hash({"arn": Token.as_string({"Ref": "x"})})


def test_a_bad_artifact_and_half_a_vpc_are_refused_together():
    with pytest.raises(ValueError) as error:
        synth_with(lambda s: _model(s, artifact_key="model.zip", subnet_ids=("subnet-a",)))
    assert "artifact_key must name a .tar.gz archive" in str(error.value)
    assert "subnet_ids and security_group_ids go together" in str(error.value)
