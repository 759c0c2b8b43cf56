"""A health alarm as data: which metric, which statistic, which threshold, what it means.

Why data first: the same definition makes the CloudWatch alarm (`health_alarm`), names the alarms a deployment
rolls back on (SageMaker auto-rollback, ECS deployment alarms) and draws the dashboard's graph with the alarm's
threshold line (pipeline_dashboard.py). A threshold changed in one place changes all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from constructs import Construct

from modules import aws
from modules.constructs.alarm_settings import PERIOD_SECONDS, notifying_alarm_settings


@dataclass(frozen=True, kw_only=True)
class AlarmDefinition:
    """One alarm on one metric: at or above `threshold` for the shared evaluation window (alarm_settings.py)."""

    name: str  # alarm name, unique in the account and region
    description: str
    namespace: str
    metric_name: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    threshold: float
    statistic: str | None = None  # Sum, Average, Maximum ...
    extended_statistic: str | None = None  # a percentile such as p99 (instead of statistic)
    label: str = ""  # legend of the metric in graphs; default: the metric name

    @property
    def stat(self) -> str:
        """The statistic as dashboards spell it."""
        return self.extended_statistic or self.statistic or "Average"

    def graph_metric(self, **dimensions: str) -> list:
        """The metric as a dashboard `metrics` row (namespace, name, dimension pairs, then options); keyword
        arguments replace dimension values (e.g. another variant)."""
        values = {**self.dimensions, **dimensions}
        pairs = [item for key, value in values.items() for item in (key, value)]
        return [self.namespace, self.metric_name, *pairs, {"stat": self.stat, "label": self.label or self.metric_name}]


def health_alarm(scope: Construct, id_: str, definition: AlarmDefinition,
                 alarm_topic_arn: str) -> aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm:
    """The CloudWatch alarm of DEFINITION, notifying ALARM_TOPIC_ARN of both transitions."""
    return aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
        scope, id_, alarm_name=definition.name, alarm_description=definition.description,
        namespace=definition.namespace, metric_name=definition.metric_name, dimensions=dict(definition.dimensions),
        statistic=definition.statistic, extended_statistic=definition.extended_statistic, period=PERIOD_SECONDS,
        threshold=definition.threshold, **notifying_alarm_settings(alarm_topic_arn))
