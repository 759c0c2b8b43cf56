import re

import pytest

from modules.constructs.sagemaker_endpoint import SagemakerEndpoint, SagemakerEndpointProps
from tests.constructs.helpers import only, synth_with
from tests.constructs.sagemaker_fixtures import KEY, OTHER_KEY, OTHER_TOPIC, TOPIC, unhashed_arguments

COMMON = {"endpoint_name": "ep", "model_name": "ep-model", "kms_key_arn": KEY, "log_kms_key_arn": KEY,
          "log_retention_days": 7}
MODES = {
    "real-time": {"instance_type": "ml.m5.large", "initial_instance_count": 2,
                  "data_capture_s3_uri": "s3://results/data-capture/", "data_capture_sampling_percentage": 20,
                  "data_capture_kms_key_arn": KEY},
    "serverless": {"memory_size_mb": 2048, "max_concurrency": 5},
    "async": {"instance_type": "ml.m5.large", "initial_instance_count": 1, "output_s3_uri": "s3://results/async/output/",
              "failure_s3_uri": "s3://results/async/failure/", "output_kms_key_arn": KEY,
              "success_topic_arn": TOPIC, "error_topic_arn": TOPIC, "max_concurrent_invocations_per_instance": 4},
}


def _props(mode, **overrides) -> SagemakerEndpointProps:
    return SagemakerEndpointProps(**{**COMMON, "mode": mode, **MODES[mode], **overrides})


def _synth(mode, **overrides) -> dict:
    return synth_with(lambda s: SagemakerEndpoint(s, "endpoint", props=_props(mode, **overrides)))


def test_real_time_runs_instances_with_a_volume_key_and_captures_a_sample_of_traffic():
    doc = _synth("real-time")
    config = only(doc, "aws_sagemaker_endpoint_configuration")
    assert config["kms_key_arn"] == KEY
    assert config["production_variants"][0] == {
        "variant_name": "primary", "model_name": "ep-model", "instance_type": "ml.m5.large",
        "initial_instance_count": 2, "initial_variant_weight": 1}
    capture = config["data_capture_config"]
    assert capture["enable_capture"] is True and capture["initial_sampling_percentage"] == 20
    assert capture["destination_s3_uri"] == "s3://results/data-capture/" and capture["kms_key_id"] == KEY
    assert [o["capture_mode"] for o in capture["capture_options"]] == ["Input", "Output"]
    assert "async_inference_config" not in config


def test_serverless_sets_memory_and_concurrency_and_nothing_of_instances():
    config = only(_synth("serverless", provisioned_concurrency=2), "aws_sagemaker_endpoint_configuration")
    variant = config["production_variants"][0]
    assert variant["serverless_config"] == {"memory_size_in_mb": 2048, "max_concurrency": 5,
                                            "provisioned_concurrency": 2}
    assert "instance_type" not in variant and "data_capture_config" not in config


def test_async_writes_outputs_and_failures_to_s3_and_notifies_topics():
    config = only(_synth("async"), "aws_sagemaker_endpoint_configuration")
    output = config["async_inference_config"]["output_config"]
    assert output["s3_output_path"] == "s3://results/async/output/"
    assert output["s3_failure_path"] == "s3://results/async/failure/"
    assert output["kms_key_id"] == KEY
    assert output["notification_config"]["success_topic"] == TOPIC
    assert output["notification_config"]["error_topic"] == TOPIC
    assert "include_inference_response_in" not in output["notification_config"], "answers stay in the output object"
    assert config["async_inference_config"]["client_config"] == {"max_concurrent_invocations_per_instance": 4}


def _configuration(mode, **overrides) -> dict:
    return only(_synth(mode, **overrides), "aws_sagemaker_endpoint_configuration")


def test_the_configuration_is_named_by_a_terraform_hash_and_replaced_before_destroyed_the_endpoint_stays():
    doc = _synth("serverless")
    config = only(doc, "aws_sagemaker_endpoint_configuration")
    assert re.fullmatch(r"ep-\$\{substr\(sha1\(jsonencode\(\{.*\}\)\), 0, 10\)\}", config["name"])
    assert config["lifecycle"] == {"create_before_destroy": True}
    endpoint = only(doc, "aws_sagemaker_endpoint")
    assert endpoint["name"] == "ep"  # fixed: updated in place to the new configuration
    assert endpoint["endpoint_config_name"].startswith("${aws_sagemaker_endpoint_configuration.")


# Defect 8: every input that forces a new configuration must rename it, or create_before_destroy creates the new
# configuration under the old name ("already exists"). Keys, topics and the model are references at synth: the
# Python hash of today left them out.
@pytest.mark.parametrize(("mode", "change"), [
    ("real-time", {"model_name": "ep-other-model"}),
    ("real-time", {"kms_key_arn": OTHER_KEY}),
    ("real-time", {"data_capture_kms_key_arn": OTHER_KEY}),
    ("real-time", {"data_capture_s3_uri": "s3://other/data-capture/"}),
    ("real-time", {"data_capture_sampling_percentage": 50}),
    ("real-time", {"instance_type": "ml.c5.large"}),
    ("real-time", {"initial_instance_count": 3}),
    ("real-time", {"instance_type": "ml.g4dn.xlarge", "volume_encryption": False}),
    ("serverless", {"memory_size_mb": 4096}),
    ("serverless", {"provisioned_concurrency": 2}),
    ("async", {"output_kms_key_arn": OTHER_KEY}),
    ("async", {"output_s3_uri": "s3://other/async/output/"}),
    ("async", {"failure_s3_uri": "s3://other/async/failure/"}),
    ("async", {"success_topic_arn": OTHER_TOPIC}),
    ("async", {"error_topic_arn": OTHER_TOPIC}),
    ("async", {"max_concurrent_invocations_per_instance": 8}),
], ids=lambda value: value if isinstance(value, str) else "+".join(value))
def test_a_change_in_any_input_that_replaces_the_configuration_changes_its_name(mode, change):
    assert _configuration(mode, **change)["name"] != _configuration(mode)["name"]


@pytest.mark.parametrize("mode", ["real-time", "serverless", "async"])
def test_every_argument_of_the_configuration_is_hashed_into_its_name(mode):
    assert unhashed_arguments(_configuration(mode)) == []


def test_the_configuration_waits_for_the_model_and_hashes_the_name_it_really_has():
    def build(stack):
        from modules.constructs.sagemaker_model import SagemakerModel, SagemakerModelProps

        model = SagemakerModel(stack, "model", props=SagemakerModelProps(
            name_prefix="ep", image_repository_url="repo", image_tag="1.0.0", artifact_bucket="artifacts",
            artifact_key="models/m/1.0.0/model.tar.gz", execution_role_arn="arn:aws:iam::123456789012:role/r"))
        SagemakerEndpoint(stack, "endpoint", props=_props("serverless", model_name=model.name))

    config = only(synth_with(build), "aws_sagemaker_endpoint_configuration")
    reference = config["production_variants"][0]["model_name"]
    assert re.fullmatch(r"\$\{aws_sagemaker_model\.[\w-]+\.name\}", reference)
    assert f'"modelName" = {reference[2:-1]}' in config["name"]


def test_the_log_group_has_the_sagemaker_name_a_retention_and_a_key():
    log_group = only(_synth("serverless"), "aws_cloudwatch_log_group")
    assert log_group == {"name": "/aws/sagemaker/Endpoints/ep", "retention_in_days": 7, "kms_key_id": KEY}


def test_local_nvme_instances_get_no_volume_key():
    config = only(_synth("real-time", instance_type="ml.g4dn.xlarge", volume_encryption=False),
                  "aws_sagemaker_endpoint_configuration")
    assert "kms_key_arn" not in config


def test_knobs_of_another_mode_are_refused_naming_field_and_mode():
    with pytest.raises(ValueError) as error:
        _synth("serverless", instance_type="ml.m5.large", output_s3_uri="s3://r/o/")
    message = str(error.value)
    assert "instance_type applies only to mode real-time or async, not to mode 'serverless'" in message
    assert "output_s3_uri applies only to mode async, not to mode 'serverless'" in message


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"memory_size_mb": 1500}, "memory_size_mb must be one of 1024, 2048, 3072, 4096, 5120, 6144, got 1500"),
    ({"max_concurrency": 201}, "max_concurrency must be 1-200, got 201"),
    ({"provisioned_concurrency": 6}, "provisioned_concurrency must be 1-max_concurrency (5), got 6"),
])
def test_serverless_limits_are_enforced(overrides, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        _synth("serverless", **overrides)


def test_a_non_ml_instance_type_and_missing_async_knobs_are_refused():
    with pytest.raises(ValueError) as error:
        _synth("async", instance_type="m5.large", success_topic_arn=None)
    assert "instance_type must match ^ml" in str(error.value)
    assert "success_topic_arn is required in mode 'async'" in str(error.value)
