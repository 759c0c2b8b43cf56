import pytest

from modules.constructs.service_autoscaling import (
    ServiceAutoscaling,
    ServiceAutoscalingProps,
)
from tests.constructs.helpers import only, synth_with


def _scaling(stack, **overrides):
    props = {
        "cluster_name": "p",
        "service_name": "p-inference",
        "load_balancer_arn_suffix": "app/p/1",
        "target_group_arn_suffix": "targetgroup/p/2",
        "min_count": 1,
        "max_count": 4,
        "cpu_target_percent": 60,
        "requests_per_target": 200,
        "scale_in_cooldown_seconds": 300,
        "scale_out_cooldown_seconds": 60,
        **overrides,
    }
    return ServiceAutoscaling(stack, "scaling", props=ServiceAutoscalingProps(**props))


def test_the_service_tracks_cpu_and_requests_per_target():
    doc = synth_with(_scaling)
    target = only(doc, "aws_appautoscaling_target")
    assert target["resource_id"] == "service/p/p-inference" and (target["min_capacity"], target["max_capacity"]) == (
        1,
        4,
    )
    metrics = {
        p["target_tracking_scaling_policy_configuration"]["predefined_metric_specification"][
            "predefined_metric_type"
        ]: p["target_tracking_scaling_policy_configuration"]
        for p in doc["resource"]["aws_appautoscaling_policy"].values()
    }
    assert metrics["ECSServiceAverageCPUUtilization"]["target_value"] == 60
    requests = metrics["ALBRequestCountPerTarget"]
    assert requests["predefined_metric_specification"]["resource_label"] == "app/p/1/targetgroup/p/2"


def test_without_a_load_balancer_only_cpu_is_tracked():
    doc = synth_with(lambda s: _scaling(s, requests_per_target=None))
    assert len(doc["resource"]["aws_appautoscaling_policy"]) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_count": 5, "max_count": 4}, "min_count/max_count must satisfy"),
        ({"cpu_target_percent": 95}, "cpu_target_percent must be 10-90"),
        ({"load_balancer_arn_suffix": ""}, "requests_per_target needs"),
    ],
)
def test_invalid_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda s: _scaling(s, **overrides))
