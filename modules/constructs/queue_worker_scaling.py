"""Scaling of a queue worker service on its queue's backlog per task, down to zero tasks and back.

- Target tracking keeps the backlog per task (messages visible divided by running tasks, metric math over SQS's
  ApproximateNumberOfMessagesVisible and Container Insights' RunningTaskCount) at `messages_per_task`, both ways.
- Target tracking cannot leave zero tasks (its metric divides by the running tasks, and its new capacity is a
  multiple of the current one), so a wake-up alarm on "messages visible while no task runs" adds tasks by step
  scaling, more for a larger backlog.
- An idle alarm (nothing visible and nothing in flight for several minutes) sets the service to `min_count`, so
  an idle service goes to zero even when target tracking's own scale-in is slower.

Why not CPU: a worker waiting on a slow model is idle by CPU yet busy by backlog. And scale-in never stops a
busy task: the consumer protects its task (ECS task scale-in protection) while it holds messages, so a scale-in
stops only idle tasks and waits for the busy ones (containers/inference/queue_worker/task_protection.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from constructs import Construct

from modules import aws
from modules.constructs.ecs_service_target import count_bounds_problem, ecs_service_target
from modules.constructs.scaling_policy import scaling_policy

_CUSTOM_METRIC = "AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecification"


def _metric_struct(suffix: str) -> type:
    """The provider's customized-metric struct _CUSTOM_METRIC + SUFFIX, looked up on use, not at import: the
    provider module loads with the provider's assembly, which `make synth` loads while it imports this module."""
    return getattr(aws.appautoscaling_policy, _CUSTOM_METRIC + suffix)


# The wake-up alarm's metric: messages visible while no task runs (Container Insights publishes no task count for
# a service without tasks, so a missing count is zero tasks).
WAKE_EXPRESSION = "IF(FILL(running, 0) < 1, visible, 0)"
BACKLOG_PER_TASK_EXPRESSION = "visible / running"


@dataclass(frozen=True, kw_only=True)
class QueueWorkerScalingProps:
    """The service, its queue and how closely to follow the backlog."""

    name: str  # prefix of the alarm and policy names
    cluster_name: str
    service_name: str  # the service resource's name attribute (a token)
    queue_name: str  # physical SQS queue name (the metrics' QueueName dimension)
    min_count: int  # 0: scale to zero when the queue is empty
    max_count: int
    messages_per_task: int  # target backlog per task; also the wake-up's step size
    scale_out_evaluation_minutes: int  # minutes of backlog with no task before waking up
    scale_in_evaluation_minutes: int  # idle minutes before going to min_count
    cooldown_seconds: int


class QueueWorkerScaling(Construct):
    """Exposes `target`, `tracking_policy`, `scale_out_policy`, `scale_in_policy`, `backlog_alarm` (the wake-up),
    `idle_alarm`."""

    def __init__(self, scope: Construct, id_: str, *, props: QueueWorkerScalingProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        metrics = _metrics(props)
        self.target = ecs_service_target(self, props)
        self.tracking_policy = scaling_policy(
            self,
            "backlog-per-task",
            target=self.target,
            name=f"{props.name}-backlog-per-task",
            target_tracking=aws.appautoscaling_policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration(
                target_value=props.messages_per_task,
                scale_in_cooldown=props.cooldown_seconds,
                scale_out_cooldown=props.cooldown_seconds,
                customized_metric_specification=_metric_struct("")(
                    metrics=[
                        _tracking_metric("visible", metrics["visible"], "Sum"),
                        _tracking_metric("running", metrics["running"], "Average"),
                        _metric_struct("Metrics")(
                            id="backlog_per_task",
                            expression=BACKLOG_PER_TASK_EXPRESSION,
                            label="messages visible per running task",
                            return_data=True,
                        ),
                    ]
                ),
            ),
        )
        per_task = props.messages_per_task
        # Bounds are relative to the wake-up threshold (1 message): 1..N -> +1, N..5N -> +2, beyond -> +4.
        self.scale_out_policy = self._step_policy(
            "scale-out",
            props,
            "ChangeInCapacity",
            [
                aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment(
                    metric_interval_lower_bound="0", metric_interval_upper_bound=str(per_task), scaling_adjustment=1
                ),
                aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment(
                    metric_interval_lower_bound=str(per_task),
                    metric_interval_upper_bound=str(5 * per_task),
                    scaling_adjustment=2,
                ),
                aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment(
                    metric_interval_lower_bound=str(5 * per_task), scaling_adjustment=4
                ),
            ],
        )
        # Nothing visible and nothing in flight: every task is idle, go straight to the minimum.
        self.scale_in_policy = self._step_policy(
            "scale-in",
            props,
            "ExactCapacity",
            [
                aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment(
                    metric_interval_upper_bound="0", scaling_adjustment=props.min_count
                ),
            ],
        )
        self.backlog_alarm = self._math_alarm(
            "backlog-alarm",
            name=f"{props.name}-backlog",
            description=f"messages waiting in {props.queue_name} and no {props.name} task running: start "
            "tasks (target tracking takes over from one task)",
            evaluation_minutes=props.scale_out_evaluation_minutes,
            threshold=1,
            comparison="GreaterThanOrEqualToThreshold",
            inputs={name: metrics[name] for name in ("visible", "running")},
            result=("waiting_without_tasks", WAKE_EXPRESSION, "messages visible while no task runs"),
            policy=self.scale_out_policy,
        )
        self.idle_alarm = self._math_alarm(
            "idle-alarm",
            name=f"{props.name}-idle",
            description=f"{props.queue_name} empty with nothing in flight: scale {props.name} to {props.min_count}",
            evaluation_minutes=props.scale_in_evaluation_minutes,
            threshold=0,
            comparison="LessThanOrEqualToThreshold",
            inputs={name: metrics[name] for name in ("visible", "in_flight")},
            result=("backlog", "visible + in_flight", "messages waiting or being processed"),
            policy=self.scale_in_policy,
        )

    def _step_policy(
        self, id_: str, props: QueueWorkerScalingProps, adjustment_type: str, steps: list
    ) -> aws.appautoscaling_policy.AppautoscalingPolicy:
        return scaling_policy(
            self,
            id_,
            target=self.target,
            name=f"{props.name}-{id_}",
            step_scaling=aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfiguration(
                adjustment_type=adjustment_type,
                cooldown=props.cooldown_seconds,
                metric_aggregation_type="Maximum",
                step_adjustment=steps,
            ),
        )

    def _math_alarm(
        self,
        id_: str,
        *,
        name: str,
        description: str,
        evaluation_minutes: int,
        threshold: int,
        comparison: str,
        inputs: dict[str, _Metric],
        result: tuple[str, str, str],
        policy: aws.appautoscaling_policy.AppautoscalingPolicy,
    ) -> aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm:
        """Alarm NAME on RESULT (id, expression over the INPUTS' ids, label), each input its per-minute maximum;
        beyond THRESHOLD by COMPARISON for EVALUATION_MINUTES it applies POLICY. No data is no breach."""
        result_id, expression, label = result
        return aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            self,
            id_,
            alarm_name=name,
            alarm_description=description,
            evaluation_periods=evaluation_minutes,
            threshold=threshold,
            comparison_operator=comparison,
            treat_missing_data="notBreaching",
            metric_query=[
                *(_alarm_metric(metric_id, metric, "Maximum") for metric_id, metric in inputs.items()),
                aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery(
                    id=result_id, expression=expression, label=label, return_data=True
                ),
            ],
            alarm_actions=[policy.arn],
        )


class _Metric(NamedTuple):
    namespace: str
    name: str
    dimensions: dict[str, str]


def _metrics(props: QueueWorkerScalingProps) -> dict[str, _Metric]:
    """The metrics the policies and alarms read, by the ids their math expressions use."""
    queue = {"QueueName": props.queue_name}
    return {
        "visible": _Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue),
        "in_flight": _Metric("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", queue),
        "running": _Metric(
            "ECS/ContainerInsights",
            "RunningTaskCount",
            {"ClusterName": props.cluster_name, "ServiceName": props.service_name},
        ),
    }


def _tracking_metric(id_: str, metric: _Metric, stat: str):
    return _metric_struct("Metrics")(
        id=id_,
        return_data=False,
        metric_stat=_metric_struct("MetricsMetricStat")(
            stat=stat,
            metric=_metric_struct("MetricsMetricStatMetric")(
                namespace=metric.namespace,
                metric_name=metric.name,
                dimensions=[
                    _metric_struct("MetricsMetricStatMetricDimensions")(name=name, value=value)
                    for name, value in metric.dimensions.items()
                ],
            ),
        ),
    )


def _alarm_metric(id_: str, metric: _Metric, stat: str) -> aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery:
    return aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery(
        id=id_,
        return_data=False,
        metric=aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQueryMetric(
            namespace=metric.namespace, metric_name=metric.name, dimensions=metric.dimensions, period=60, stat=stat
        ),
    )


def _validate(id_: str, props: QueueWorkerScalingProps) -> None:
    problems = []
    if bounds := count_bounds_problem(props.min_count, props.max_count):
        problems.append(bounds)
    if props.messages_per_task < 1:
        problems.append(f"messages_per_task must be >= 1, got {props.messages_per_task}")
    for name in ("scale_out_evaluation_minutes", "scale_in_evaluation_minutes"):
        if not 1 <= getattr(props, name) <= 60:
            problems.append(f"{name} must be 1-60, got {getattr(props, name)}")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
