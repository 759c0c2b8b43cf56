"""Wiring of the inference stack in every environment (on the session's synthesized output)."""

from __future__ import annotations

import json

import pytest

REMOTE = "${data.terraform_remote_state.cross-stack-reference-input-"


def _stack(synthesized, env: str) -> dict:
    return json.loads((synthesized[env] / "stacks" / "inference" / "cdk.tf.json").read_text())


def _one(doc: dict, resource_type: str) -> dict:
    (resource,) = doc["resource"][resource_type].values()
    return resource


def _statements(doc: dict) -> dict:
    (document,) = doc["data"]["aws_iam_policy_document"].values()
    return {st["sid"]: st for st in document["statement"]}


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_the_model_runs_the_registry_image_with_the_artifact_from_storage(env, synthesized):
    doc = _stack(synthesized, env)
    container = _one(doc, "aws_sagemaker_model")["primary_container"]
    image = container["image"]
    assert image.startswith('${join("", [' + REMOTE.removeprefix("${") + "registry.") and image.endswith('":1.0.0"])}')
    # Defect 7: the key carries the configured version, so every instance loads the same artifact.
    bucket = f"inference-{env}-artifacts" + {"local": "", "dev": "-111111111111", "prod": "-222222222222"}[env]
    assert container["model_data_url"] == f"s3://{bucket}/models/inference/1.0.0/model.tar.gz"
    statements = _statements(doc)
    # Issue 16: every version of this one model (the previous fleet and a rollback load the previous version).
    (artifacts,) = statements["ReadModelVersions"]["resources"]
    assert artifacts.startswith(f"{REMOTE}storage.") and artifacts.endswith("}/models/inference/*")
    assert statements["PullInferenceImage"]["resources"][0].startswith(f"{REMOTE}registry.")


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_the_endpoint_has_the_name_other_stacks_derive_and_the_outputs_are_present(env, synthesized):
    doc = _stack(synthesized, env)
    assert _one(doc, "aws_sagemaker_endpoint")["name"] == f"inference-{env}-inference"
    assert {"endpoint_name", "endpoint_arn", "endpoint_configuration_name", "model_name", "model_artifact_uri",
            "model_image", "execution_role_arn"} <= set(doc["output"])
    config = _one(doc, "aws_sagemaker_endpoint_configuration")
    assert config["lifecycle"] == {"create_before_destroy": True}
    assert config["name"].startswith(f"inference-{env}-inference-${{substr(sha1(jsonencode(")


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_alarms_go_to_the_messaging_alarm_topic(env, synthesized):
    alarms = [a for a in _stack(synthesized, env)["resource"]["aws_cloudwatch_metric_alarm"].values()
              if "aws_appautoscaling_policy" not in a["alarm_actions"][0]]  # an async endpoint's wake-up scales
    assert alarms and all(a["alarm_actions"][0].startswith(f"{REMOTE}messaging.") for a in alarms)


def test_local_async_notifies_its_own_topic_and_reads_only_the_inputs_its_callers_hand_it(synthesized):
    """SageMaker's notifications go to the messaging stack's dedicated topic (async_results translates them), never
    to the results topic; the execution role reads exactly async/input/ and writes async/output/ and failure/."""
    doc = _stack(synthesized, "local")
    configuration = _one(doc, "aws_sagemaker_endpoint_configuration")
    notification = configuration["async_inference_config"]["output_config"]["notification_config"]
    statements = _statements(doc)

    assert "serverless_config" not in configuration["production_variants"][0]
    assert notification["success_topic"] == notification["error_topic"]
    assert "async-notifications-topic" in notification["success_topic"] and "results" not in notification["success_topic"]
    assert statements["ReadInputs"]["actions"] == ["s3:GetObject"]
    assert [r.split("}", 1)[1] for r in statements["ReadInputs"]["resources"]] == ["/async/input/*"]
    assert sorted(r.split("}", 1)[1] for r in statements["WriteOutputs"]["resources"]) == [
        "/async/failure/*", "/async/output/*"]
    assert statements["PublishNotifications"]["resources"] == [notification["success_topic"]]


def test_dev_scales_provisioned_concurrency(synthesized):
    doc = _stack(synthesized, "dev")
    assert _one(doc, "aws_appautoscaling_target")["scalable_dimension"] == "sagemaker:variant:DesiredProvisionedConcurrency"


def test_prod_runs_real_time_in_the_private_subnets_with_data_capture_and_invocation_scaling(synthesized):
    doc = _stack(synthesized, "prod")
    model = _one(doc, "aws_sagemaker_model")
    assert all(subnet.startswith(f"{REMOTE}network.") for subnet in model["vpc_config"]["subnets"])
    (group_id,) = doc["resource"]["aws_security_group"]
    assert model["vpc_config"]["security_group_ids"] == [f"${{aws_security_group.{group_id}.id}}"]  # attached
    config = _one(doc, "aws_sagemaker_endpoint_configuration")
    assert config["production_variants"][0]["instance_type"] == "ml.m5.large"
    assert config["data_capture_config"]["destination_s3_uri"] == "s3://inference-prod-results-222222222222/data-capture/"
    assert _statements(doc)["WriteOutputs"]["resources"][0].endswith("/data-capture/*")
    policy = _one(doc, "aws_appautoscaling_policy")["target_tracking_scaling_policy_configuration"]
    assert policy["predefined_metric_specification"]["predefined_metric_type"] == "SageMakerVariantInvocationsPerInstance"


def _bare(reference: str) -> str:
    return reference.removeprefix("${").removesuffix("}")


# Defect 8, wired: the names hash the role, network, keys and model the stack really passes, by reference, so a
# replaced dependency (new ARN or id behind the same wiring) renames the model or configuration too.
def test_prod_names_follow_every_dependency_that_replaces_the_model_or_configuration(synthesized):
    doc = _stack(synthesized, "prod")
    model = _one(doc, "aws_sagemaker_model")
    dependencies = [model["execution_role_arn"], *model["vpc_config"]["subnets"],
                    *model["vpc_config"]["security_group_ids"]]
    assert all(f" = {_bare(value)}" in model["name"] or f"{_bare(value)}," in model["name"]
               or f"{_bare(value)}]" in model["name"] for value in dependencies)
    config = _one(doc, "aws_sagemaker_endpoint_configuration")
    for value in (config["kms_key_arn"], config["data_capture_config"]["kms_key_id"],
                  config["production_variants"][0]["model_name"]):
        assert f" = {_bare(value)}" in config["name"], value

