import pytest

from modules.constructs.queue_worker_scaling import (
    QueueWorkerScaling,
    QueueWorkerScalingProps,
)
from tests.constructs.helpers import only, synth_with


def _scaling(stack, **overrides):
    props = {"name": "p-queue-worker", "cluster_name": "p", "service_name": "p-queue-worker",
             "queue_name": "p-default", **overrides}
    return QueueWorkerScaling(stack, "scaling", props=QueueWorkerScalingProps(**props))


def _policies(doc):
    return {p["name"]: p for p in doc["resource"]["aws_appautoscaling_policy"].values()}


def test_the_worker_may_scale_to_zero_by_default():
    assert only(synth_with(_scaling), "aws_appautoscaling_target")["min_capacity"] == 0


def test_only_step_scaling_on_the_backlog_no_cpu_policy():
    policies = _policies(synth_with(_scaling))
    assert {p["policy_type"] for p in policies.values()} == {"StepScaling"}
    out = policies["p-queue-worker-scale-out"]["step_scaling_policy_configuration"]
    assert out["adjustment_type"] == "ChangeInCapacity"
    assert [s["scaling_adjustment"] for s in out["step_adjustment"]] == [1, 2, 4]


def test_the_backlog_alarm_scales_out_on_visible_messages():
    doc = synth_with(_scaling)
    alarms = {a["alarm_name"]: a for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values()}
    backlog = alarms["p-queue-worker-backlog"]
    assert backlog["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert backlog["dimensions"] == {"QueueName": "p-default"}
    assert backlog["alarm_actions"][0].startswith("${aws_appautoscaling_policy.scaling_scale-out")


def test_scale_in_waits_until_nothing_is_visible_or_in_flight():
    doc = synth_with(lambda s: _scaling(s, min_count=1))
    idle = next(a for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values() if a["alarm_name"].endswith("idle"))
    metrics = {q["id"]: q for q in idle["metric_query"]}
    assert metrics["in_flight"]["metric"]["metric_name"] == "ApproximateNumberOfMessagesNotVisible"
    assert metrics["backlog"]["expression"] == "visible + in_flight"
    scale_in = _policies(doc)["p-queue-worker-scale-in"]["step_scaling_policy_configuration"]
    assert scale_in["adjustment_type"] == "ExactCapacity"
    assert scale_in["step_adjustment"][0]["scaling_adjustment"] == 1


@pytest.mark.parametrize(("overrides", "message"), [
    ({"min_count": 3, "max_count": 2}, "min_count/max_count must satisfy"),
    ({"messages_per_task": 0}, "messages_per_task must be >= 1"),
    ({"scale_in_evaluation_minutes": 0}, "scale_in_evaluation_minutes must be 1-60"),
])
def test_invalid_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda s: _scaling(s, **overrides))
