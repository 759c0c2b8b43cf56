import json

import pytest

from modules.constructs.queue_worker_scaling import (
    WAKE_EXPRESSION,
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


def test_target_tracking_keeps_the_backlog_per_task_by_metric_math_and_no_policy_follows_cpu():
    doc = synth_with(lambda s: _scaling(s, messages_per_task=7))
    policies = _policies(doc)
    tracking = policies["p-queue-worker-backlog-per-task"]["target_tracking_scaling_policy_configuration"]
    queries = {q["id"]: q for q in tracking["customized_metric_specification"]["metrics"]}

    assert tracking["target_value"] == 7 and not tracking.get("disable_scale_in")
    assert queries["backlog_per_task"] == {"id": "backlog_per_task", "expression": "visible / running",
                                           "label": "messages visible per running task", "return_data": True}
    assert queries["visible"]["metric_stat"]["metric"]["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert queries["running"]["metric_stat"]["metric"] == {
        "namespace": "ECS/ContainerInsights", "metric_name": "RunningTaskCount",
        "dimensions": [{"name": "ClusterName", "value": "p"}, {"name": "ServiceName", "value": "p-queue-worker"}]}
    assert "CPU" not in json.dumps(doc["resource"]["aws_appautoscaling_policy"])


def test_from_zero_tasks_a_wake_up_alarm_adds_tasks_by_step_since_tracking_cannot_scale_from_zero():
    doc = synth_with(_scaling)
    alarms = {a["alarm_name"]: a for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values()}
    wake = alarms["p-queue-worker-backlog"]
    queries = {q["id"]: q for q in wake["metric_query"]}
    out = _policies(doc)["p-queue-worker-scale-out"]["step_scaling_policy_configuration"]

    assert queries["waiting_without_tasks"]["expression"] == "IF(FILL(running, 0) < 1, visible, 0)"
    assert queries["visible"]["metric"]["dimensions"] == {"QueueName": "p-default"}
    assert queries["running"]["metric"]["metric_name"] == "RunningTaskCount"
    assert (wake["threshold"], wake["comparison_operator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert wake["alarm_actions"][0].startswith("${aws_appautoscaling_policy.scaling_scale-out")
    assert out["adjustment_type"] == "ChangeInCapacity"
    assert [s["scaling_adjustment"] for s in out["step_adjustment"]] == [1, 2, 4]


def test_the_wake_up_expression_fires_only_with_messages_and_no_running_task():
    """The CloudWatch expression, read as what it computes: messages visible while no task runs, else 0."""
    def waiting_without_tasks(visible: float, running: float | None) -> float:
        return visible if (running or 0) < 1 else 0

    assert waiting_without_tasks(3, None) == 3 and waiting_without_tasks(3, 0) == 3
    assert waiting_without_tasks(3, 1) == 0 and waiting_without_tasks(0, None) == 0
    assert WAKE_EXPRESSION == "IF(FILL(running, 0) < 1, visible, 0)"


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
