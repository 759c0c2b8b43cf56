"""Alarms on an HTTP API stage: the share of 5xx answers, and the p99 of Latency and IntegrationLatency.

Why a rate and not a count: ten 5xx answers are noise at 10,000 requests and an outage at 20. The rate is
metric math (100 * 5xx / Count) so it scales with traffic; periods without requests are not breaching.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.alarm_settings import health_alarm_problems, notifying_alarm_settings
from modules.defaults import ALARM_PERIOD_SECONDS

API_NAMESPACE = "AWS/ApiGateway"


@dataclass(frozen=True, kw_only=True)
class ApiAlarmsProps:
    """Which API and stage, the thresholds and where alarms go."""

    name: str  # prefix of the alarm names (plain)
    api_id: str  # HttpApi.id
    stage_name: str = "$default"
    alarm_topic_arn: str  # SNS topic receiving ALARM and OK transitions
    server_error_rate_percent: float  # 5xx share (0-100] per 5 minutes
    latency_p99_ms: int  # p99 of Latency and of IntegrationLatency


class ApiAlarms(Construct):
    """Exposes `alarms` (name -> CloudwatchMetricAlarm): 5xx-rate, Latency-p99, IntegrationLatency-p99."""

    def __init__(self, scope: Construct, id_: str, *, props: ApiAlarmsProps) -> None:
        super().__init__(scope, id_)
        problems = []
        if not 0 < props.server_error_rate_percent <= 100:
            problems.append(f"server_error_rate_percent must be in (0, 100], got {props.server_error_rate_percent}")
        problems += health_alarm_problems(props.latency_p99_ms, props.alarm_topic_arn)
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        dimensions = {"ApiId": props.api_id, "Stage": props.stage_name}
        common = notifying_alarm_settings(props.alarm_topic_arn)

        def metric(query_id: str, name: str) -> aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery:
            return aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery(
                id=query_id,
                return_data=False,
                metric=aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQueryMetric(
                    namespace=API_NAMESPACE,
                    metric_name=name,
                    dimensions=dimensions,
                    period=ALARM_PERIOD_SECONDS,
                    stat="Sum",
                ),
            )

        self.alarms = {
            "5xx-rate": aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                self,
                "server-error-rate",
                alarm_name=f"{props.name}-5xx-rate",
                alarm_description=f"more than {props.server_error_rate_percent}% of requests answered 5xx",
                threshold=props.server_error_rate_percent,
                metric_query=[
                    metric("errors", "5xx"),
                    metric("requests", "Count"),
                    aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery(
                        id="rate",
                        label="5xx share (%)",
                        return_data=True,
                        expression="IF(requests > 0, 100 * errors / requests, 0)",
                    ),
                ],
                **common,
            )
        }
        for metric_name in ("Latency", "IntegrationLatency"):
            self.alarms[f"{metric_name}-p99"] = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                self,
                f"{metric_name.lower()}-p99",
                alarm_name=f"{props.name}-{metric_name}-p99",
                alarm_description=f"{metric_name} p99 above {props.latency_p99_ms} ms",
                namespace=API_NAMESPACE,
                metric_name=metric_name,
                dimensions=dimensions,
                extended_statistic="p99",
                period=ALARM_PERIOD_SECONDS,
                threshold=props.latency_p99_ms,
                **common,
            )
