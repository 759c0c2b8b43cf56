"""Alarms that say a SageMaker endpoint variant is failing or slow, sent to an SNS topic.

Why these metrics: Invocation5XXErrors counts requests the endpoint failed, InvocationModelErrors those where
the container itself answered with an error (async endpoints report InvocationFailures instead), and the p99 of
ModelLatency shows the slow tail that averages hide. ModelLatency is in microseconds; thresholds here are in ms.

The production variant's alarms are also what SageMaker watches to roll an update back (`rollback_alarms`):
their names never depend on the model, the shadow variant or the rollout, because the AWS provider replaces the
whole endpoint when the auto-rollback alarm list changes (`auto_rollback_configuration` is ForceNew). A shadow
variant gets the same alarms under its own names: they notify, and compare the candidate on the dashboard, but
never roll production back.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.constructs.alarm_definitions import AlarmDefinition, health_alarm
from modules.constructs.alarm_settings import health_alarm_problems
from modules.limits import ENDPOINT_MODES, EndpointMode

SAGEMAKER_NAMESPACE = "AWS/SageMaker"


@dataclass(frozen=True, kw_only=True)
class EndpointAlarmsProps:
    """Which endpoint and variant, the thresholds and where alarms go."""

    endpoint_name: str  # plain endpoint name (alarm names are built from it)
    variant_name: str  # e.g. "primary" (production) or "shadow"
    mode: EndpointMode
    alarm_topic_arn: str  # SNS topic receiving ALARM and OK transitions
    errors_threshold: int  # errors per 5 minutes
    latency_p99_ms: int  # ModelLatency p99 in milliseconds
    shadow: bool = False  # a shadow variant: own alarm names, never a rollback trigger


def endpoint_alarm_definitions(props: EndpointAlarmsProps) -> tuple[AlarmDefinition, ...]:
    """The variant's alarms as data (the alarms below, the rollback list and the dashboard read these)."""
    prefix = f"{props.endpoint_name}-{props.variant_name}" if props.shadow else props.endpoint_name
    who = f"{props.endpoint_name} ({props.variant_name})" if props.shadow else props.endpoint_name
    variant = {"EndpointName": props.endpoint_name, "VariantName": props.variant_name}
    errors = (
        (("InvocationFailures", {"EndpointName": props.endpoint_name}),)
        if props.mode == "async"
        else (("Invocation5XXErrors", variant), ("InvocationModelErrors", variant))
    )
    definitions = [
        AlarmDefinition(
            name=f"{prefix}-{metric}",
            namespace=SAGEMAKER_NAMESPACE,
            metric_name=metric,
            dimensions=dimensions,
            statistic="Sum",
            threshold=props.errors_threshold,
            label=f"{props.variant_name} {metric}",
            description=f"{metric} of {who} >= {props.errors_threshold} per 5 minutes",
        )
        for metric, dimensions in errors
    ]
    definitions.append(
        AlarmDefinition(
            name=f"{prefix}-ModelLatency",
            namespace=SAGEMAKER_NAMESPACE,
            metric_name="ModelLatency",
            dimensions=variant,
            extended_statistic="p99",
            threshold=props.latency_p99_ms * 1000,
            label=f"{props.variant_name} ModelLatency p99 (us)",
            description=f"ModelLatency p99 of {who} above {props.latency_p99_ms} ms",
        )
    )
    return tuple(definitions)


class EndpointAlarms(Construct):
    """Exposes `alarms` (metric name -> CloudwatchMetricAlarm), `definitions` and `rollback_alarms` (what an update
    may roll back on: the production variant's alarms; none for a shadow variant)."""

    def __init__(self, scope: Construct, id_: str, *, props: EndpointAlarmsProps) -> None:
        super().__init__(scope, id_)
        problems = []
        if props.errors_threshold < 1:
            problems.append(f"errors_threshold must be >= 1, got {props.errors_threshold}")
        problems += health_alarm_problems(props.latency_p99_ms, props.alarm_topic_arn)
        if props.shadow and not ENDPOINT_MODES[props.mode].shadow_variant:
            problems.append(f"shadow variants exist only in mode 'real-time', not {props.mode!r}")
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        self.definitions = endpoint_alarm_definitions(props)
        self.alarms = {
            definition.metric_name: health_alarm(self, definition.metric_name, definition, props.alarm_topic_arn)
            for definition in self.definitions
        }
        self.rollback_alarms = [] if props.shadow else list(self.alarms.values())
