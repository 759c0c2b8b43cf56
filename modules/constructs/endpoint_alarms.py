"""Alarms that say a SageMaker endpoint is failing or slow, sent to an SNS topic.

Why these metrics: Invocation5XXErrors counts requests the endpoint failed, InvocationModelErrors those where
the container itself answered with an error (async endpoints report InvocationFailures instead), and the p99 of
ModelLatency shows the slow tail that averages hide. ModelLatency is in microseconds; thresholds here are in ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from constructs import Construct

from modules import aws
from modules.constructs.alarm_settings import PERIOD_SECONDS, health_alarm_problems, notifying_alarm_settings

SAGEMAKER_NAMESPACE = "AWS/SageMaker"


@dataclass(frozen=True, kw_only=True)
class EndpointAlarmsProps:
    """Which endpoint, the thresholds and where alarms go."""

    endpoint_name: str  # plain endpoint name (alarm names are built from it)
    variant_name: str  # production variant, e.g. "primary"
    mode: Literal["real-time", "serverless", "async"]
    alarm_topic_arn: str  # SNS topic receiving ALARM and OK transitions
    errors_threshold: int = 5  # errors per 5 minutes
    latency_p99_ms: int = 2000  # ModelLatency p99 in milliseconds


class EndpointAlarms(Construct):
    """Exposes `alarms` (metric name -> CloudwatchMetricAlarm)."""

    def __init__(self, scope: Construct, id_: str, *, props: EndpointAlarmsProps) -> None:
        super().__init__(scope, id_)
        problems = []
        if props.errors_threshold < 1:
            problems.append(f"errors_threshold must be >= 1, got {props.errors_threshold}")
        problems += health_alarm_problems(props.latency_p99_ms, props.alarm_topic_arn)
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        variant = {"EndpointName": props.endpoint_name, "VariantName": props.variant_name}
        error_metrics = (("InvocationFailures", {"EndpointName": props.endpoint_name}),) if props.mode == "async" \
            else (("Invocation5XXErrors", variant), ("InvocationModelErrors", variant))
        self.alarms = {}
        for metric, dimensions in error_metrics:
            self.alarms[metric] = self._alarm(
                props, metric, dimensions, statistic="Sum", threshold=props.errors_threshold,
                description=f"{metric} of {props.endpoint_name} >= {props.errors_threshold} per 5 minutes")
        self.alarms["ModelLatency"] = self._alarm(
            props, "ModelLatency", variant, extended_statistic="p99", threshold=props.latency_p99_ms * 1000,
            description=f"ModelLatency p99 of {props.endpoint_name} above {props.latency_p99_ms} ms")

    def _alarm(self, props: EndpointAlarmsProps, metric: str, dimensions: dict[str, str], *, threshold: float,
               description: str, statistic: str | None = None,
               extended_statistic: str | None = None) -> aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm:
        return aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            self, metric, alarm_name=f"{props.endpoint_name}-{metric}", alarm_description=description,
            namespace=SAGEMAKER_NAMESPACE, metric_name=metric, dimensions=dimensions, statistic=statistic,
            extended_statistic=extended_statistic, period=PERIOD_SECONDS, threshold=threshold,
            **notifying_alarm_settings(props.alarm_topic_arn))
