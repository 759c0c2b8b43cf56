"""The alarms an ECS service's deployments roll back on (besides the circuit breaker), sent to the alarm topic.

Why these: the circuit breaker only sees tasks that fail to start or stay healthy; a new image whose tasks run
but answer with errors, or slowly, or fail every job, passes it. So a service behind the load balancer rolls back
on its targets' 5xx answers and p99 response time, and the queue worker (no load balancer) on the error lines of
its own JSON logs (`"level": "ERROR"`, the image's logging convention). The thresholds are the model's
(`inference.alarm_errors_threshold`, `inference.alarm_latency_p99_ms`): the Fargate service serves the same model
the SageMaker endpoint does, held to the same bar. ECS watches the alarms while a deployment runs and for a bake
time derived from their evaluation window (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html).
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.alarm_definitions import AlarmDefinition, health_alarm
from modules.constructs.alarm_settings import health_alarm_problems

ALB_NAMESPACE = "AWS/ApplicationELB"
ERROR_LINES_METRIC = "ErrorLogLines"
ERROR_LINES_PATTERN = '{ $.level = "ERROR" }'


@dataclass(frozen=True, kw_only=True)
class ServiceDeploymentAlarmsProps:
    """One service; either its load balancer's target group (HTTP services) or its log group (workers)."""

    service_name: str  # plain; alarm names are <service>-<what>
    alarm_topic_arn: str  # SNS topic receiving ALARM and OK transitions
    errors_threshold: int  # 5xx answers or error log lines per 5 minutes
    latency_p99_ms: int  # target response time p99 (load-balanced services)
    load_balancer_arn_suffix: str | None = None  # with target_group_arn_suffix: alarm on the targets' answers
    target_group_arn_suffix: str | None = None
    log_group_name: str | None = None  # without a load balancer: alarm on the service's error log lines
    metrics_namespace: str = ""  # the service's own namespace of the error-lines metric, e.g. <service name>/logs


class ServiceDeploymentAlarms(Construct):
    """Exposes `alarms` (list of CloudwatchMetricAlarm, what the service rolls back on), `definitions`,
    `metric_filter` (workers) or None."""

    def __init__(self, scope: Construct, id_: str, *, props: ServiceDeploymentAlarmsProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.definitions = deployment_alarm_definitions(props)
        self.metric_filter = None
        if props.log_group_name:
            self.metric_filter = aws.cloudwatch_log_metric_filter.CloudwatchLogMetricFilter(
                self,
                "error-lines",
                name=f"{props.service_name}-error-lines",
                log_group_name=props.log_group_name,
                pattern=ERROR_LINES_PATTERN,
                metric_transformation=aws.cloudwatch_log_metric_filter.CloudwatchLogMetricFilterMetricTransformation(
                    name=ERROR_LINES_METRIC, namespace=props.metrics_namespace, value="1", unit="Count"
                ),
            )
        self.alarms = [
            health_alarm(self, definition.metric_name, definition, props.alarm_topic_arn)
            for definition in self.definitions
        ]


def deployment_alarm_definitions(props: ServiceDeploymentAlarmsProps) -> tuple[AlarmDefinition, ...]:
    """The service's deployment alarms as data (the alarms, the service's rollback list and the dashboard)."""
    name = props.service_name
    if props.target_group_arn_suffix:
        targets = {"LoadBalancer": props.load_balancer_arn_suffix, "TargetGroup": props.target_group_arn_suffix}
        return (
            AlarmDefinition(
                name=f"{name}-target-5xx",
                namespace=ALB_NAMESPACE,
                metric_name="HTTPCode_Target_5XX_Count",
                dimensions=targets,
                statistic="Sum",
                threshold=props.errors_threshold,
                label=f"{name} 5xx",
                description=f"tasks of {name} answered 5xx >= {props.errors_threshold} times per 5 minutes",
            ),
            AlarmDefinition(
                name=f"{name}-target-response-time-p99",
                namespace=ALB_NAMESPACE,
                metric_name="TargetResponseTime",
                dimensions=targets,
                extended_statistic="p99",
                threshold=props.latency_p99_ms / 1000,
                label=f"{name} response time p99 (s)",
                description=f"p99 response time of {name}'s tasks above {props.latency_p99_ms} ms",
            ),
        )
    return (
        AlarmDefinition(
            name=f"{name}-error-lines",
            namespace=props.metrics_namespace,
            metric_name=ERROR_LINES_METRIC,
            statistic="Sum",
            threshold=props.errors_threshold,
            label=f"{name} error log lines",
            description=f"{name} logged >= {props.errors_threshold} ERROR lines per 5 minutes",
        ),
    )


def _validate(id_: str, props: ServiceDeploymentAlarmsProps) -> None:
    problems = health_alarm_problems(props.latency_p99_ms, props.alarm_topic_arn)
    if props.errors_threshold < 1:
        problems.append(f"errors_threshold must be >= 1, got {props.errors_threshold}")
    if bool(props.load_balancer_arn_suffix) != bool(props.target_group_arn_suffix):
        problems.append("load_balancer_arn_suffix and target_group_arn_suffix go together")
    if bool(props.target_group_arn_suffix) == bool(props.log_group_name):
        problems.append("give either the target group (a load-balanced service) or the log group (a worker)")
    if props.log_group_name and not props.metrics_namespace:
        problems.append("metrics_namespace is required with log_group_name (where the error-lines metric goes)")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
