"""What an ECS service's deployments roll back on: its targets' 5xx and p99 response time behind a load balancer,
its error log lines without one; the service's `alarms` block names them (FargateService.roll_back_on)."""

from __future__ import annotations

import pytest

from modules.constructs.service_deployment_alarms import ServiceDeploymentAlarms, ServiceDeploymentAlarmsProps
from tests.constructs.helpers import only, synth_with
from tests.constructs.sagemaker_fixtures import TOPIC

COMMON = {"service_name": "svc", "alarm_topic_arn": TOPIC, "errors_threshold": 5, "latency_p99_ms": 1500}


def _alarms(**overrides) -> dict:
    doc = synth_with(lambda s: ServiceDeploymentAlarms(s, "alarms", props=ServiceDeploymentAlarmsProps(
        **{**COMMON, **overrides})))
    return doc


def test_a_load_balanced_service_rolls_back_on_its_targets_5xx_and_p99_response_time():
    doc = _alarms(load_balancer_arn_suffix="app/lb/1", target_group_arn_suffix="targetgroup/tg/2")
    alarms = {a["metric_name"]: a for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values()}
    assert set(alarms) == {"HTTPCode_Target_5XX_Count", "TargetResponseTime"}
    assert alarms["HTTPCode_Target_5XX_Count"]["dimensions"] == {"LoadBalancer": "app/lb/1", "TargetGroup": "targetgroup/tg/2"}
    assert (alarms["HTTPCode_Target_5XX_Count"]["statistic"], alarms["HTTPCode_Target_5XX_Count"]["threshold"]) == ("Sum", 5)
    assert (alarms["TargetResponseTime"]["extended_statistic"], alarms["TargetResponseTime"]["threshold"]) == ("p99", 1.5)
    assert all(a["alarm_actions"] == [TOPIC] and a["ok_actions"] == [TOPIC] for a in alarms.values())
    assert "aws_cloudwatch_log_metric_filter" not in doc["resource"]


def test_a_worker_rolls_back_on_the_error_lines_of_its_json_logs():
    doc = _alarms(log_group_name="/ecs/worker", metrics_namespace="svc/logs")
    metric_filter = only(doc, "aws_cloudwatch_log_metric_filter")
    assert (metric_filter["log_group_name"], metric_filter["pattern"]) == ("/ecs/worker", '{ $.level = "ERROR" }')
    assert metric_filter["metric_transformation"] == {"name": "ErrorLogLines", "namespace": "svc/logs", "value": "1",
                                                      "unit": "Count"}
    alarm = only(doc, "aws_cloudwatch_metric_alarm")
    assert (alarm["alarm_name"], alarm["namespace"], alarm["metric_name"], alarm["threshold"]) == (
        "svc-error-lines", "svc/logs", "ErrorLogLines", 5)


@pytest.mark.parametrize(("overrides", "message"), [
    ({}, "give either the target group (a load-balanced service) or the log group (a worker)"),
    ({"target_group_arn_suffix": "targetgroup/tg/2"}, "load_balancer_arn_suffix and target_group_arn_suffix go together"),
    ({"log_group_name": "/ecs/w"}, "metrics_namespace is required with log_group_name"),
    ({"log_group_name": "/ecs/w", "metrics_namespace": "n", "alarm_topic_arn": ""}, "alarm_topic_arn is required"),
])
def test_a_service_without_a_signal_or_a_topic_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _alarms(**overrides)


def test_the_service_rolls_back_on_the_alarms_as_well_as_on_the_circuit_breaker():
    from tests.constructs.test_fargate_service import _service

    def build(stack):
        service = _service(stack)
        alarms = ServiceDeploymentAlarms(stack, "alarms", props=ServiceDeploymentAlarmsProps(
            **COMMON, log_group_name=service.log_group.name, metrics_namespace="svc/logs"))
        service.roll_back_on(alarms.alarms)

    service = only(synth_with(build), "aws_ecs_service")
    assert service["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    assert service["alarms"]["enable"] is True and service["alarms"]["rollback"] is True
    (name,) = service["alarms"]["alarm_names"]
    assert name.startswith("${aws_cloudwatch_metric_alarm.alarms_ErrorLogLines") and name.endswith(".alarm_name}")
