import pytest

from modules.constructs.endpoint_autoscaling import EndpointAutoscaling, EndpointAutoscalingProps
from tests.constructs.helpers import only, synth_with


def _synth(mode, **overrides) -> dict:
    props = {
        "endpoint_name": "ep",
        "variant_name": "primary",
        "mode": mode,
        "min_capacity": 1,
        "max_capacity": 4,
        "target_value": 0.5 if mode == "serverless" else 100,
        "scale_in_cooldown_seconds": 300,
        "scale_out_cooldown_seconds": 60,
        **overrides,
    }
    return synth_with(lambda s: EndpointAutoscaling(s, "scaling", props=EndpointAutoscalingProps(**props)))


def test_real_time_tracks_invocations_per_instance():
    doc = _synth("real-time")
    target = only(doc, "aws_appautoscaling_target")
    assert target["resource_id"] == "endpoint/ep/variant/primary"
    assert target["scalable_dimension"] == "sagemaker:variant:DesiredInstanceCount"
    tracking = only(doc, "aws_appautoscaling_policy")["target_tracking_scaling_policy_configuration"]
    assert tracking["predefined_metric_specification"] == {
        "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
    }
    assert tracking["target_value"] == 100
    assert "aws_cloudwatch_metric_alarm" not in doc.get("resource", {})


def test_async_tracks_backlog_per_instance_scales_to_zero_and_wakes_on_backlog_without_capacity():
    doc = _synth("async", min_capacity=0, target_value=5)
    assert only(doc, "aws_appautoscaling_target")["min_capacity"] == 0
    policies = {p["policy_type"]: p for p in doc["resource"]["aws_appautoscaling_policy"].values()}
    metric = policies["TargetTrackingScaling"]["target_tracking_scaling_policy_configuration"][
        "customized_metric_specification"
    ]
    assert metric["metric_name"] == "ApproximateBacklogSizePerInstance" and metric["namespace"] == "AWS/SageMaker"
    assert metric["dimensions"] == [{"name": "EndpointName", "value": "ep"}]
    step = policies["StepScaling"]["step_scaling_policy_configuration"]
    assert step["adjustment_type"] == "ChangeInCapacity" and step["step_adjustment"][0]["scaling_adjustment"] == 1
    alarm = only(doc, "aws_cloudwatch_metric_alarm")
    assert alarm["metric_name"] == "HasBacklogWithoutCapacity"
    assert alarm["alarm_actions"][0].startswith("${aws_appautoscaling_policy.scaling_wake-from-zero")


def test_serverless_scales_provisioned_concurrency_on_its_utilization():
    doc = _synth("serverless")
    assert (
        only(doc, "aws_appautoscaling_target")["scalable_dimension"]
        == "sagemaker:variant:DesiredProvisionedConcurrency"
    )
    tracking = only(doc, "aws_appautoscaling_policy")["target_tracking_scaling_policy_configuration"]
    assert (
        tracking["predefined_metric_specification"]["predefined_metric_type"]
        == "SageMakerVariantProvisionedConcurrencyUtilization"
    )


def test_scale_to_zero_outside_async_and_bad_ranges_are_refused():
    with pytest.raises(ValueError) as error:
        _synth("real-time", min_capacity=0, max_capacity=0, scale_in_cooldown_seconds=4000)
    message = str(error.value)
    assert "min_capacity must be >= 1 in mode 'real-time'" in message
    assert "max_capacity must be >= max(min_capacity, 1), got 0" in message
    assert "scale_in_cooldown_seconds must be 0-3600, got 4000" in message


def test_a_utilization_target_outside_0_1_to_0_95_is_refused():
    with pytest.raises(ValueError, match="must be 0.1-0.95, got 1.5"):
        _synth("serverless", target_value=1.5)
