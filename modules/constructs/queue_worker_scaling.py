"""Step scaling of a queue worker service on its queue's backlog, optionally down to zero tasks.

Why not CPU: a worker waiting on a slow model is idle by CPU yet busy by backlog, so CPU-driven scale-in would
stop tasks mid-job. Scale-out follows visible messages; scale-in happens only when nothing is visible *and*
nothing is in flight for several minutes, so a task is never removed while it holds a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.ecs_service_target import count_bounds_problem, ecs_service_target

_policy = aws.appautoscaling_policy
_alarm = aws.cloudwatch_metric_alarm


@dataclass(frozen=True, kw_only=True)
class QueueWorkerScalingProps:
    """The service, its queue and how aggressively to follow the backlog."""

    name: str  # prefix of the alarm names
    cluster_name: str
    service_name: str  # the service resource's name attribute (a token)
    queue_name: str  # physical SQS queue name (the metrics' QueueName dimension)
    min_count: int = 0  # 0: scale to zero when the queue is empty
    max_count: int = 4
    messages_per_task: int = 10  # backlog one more task is added for
    scale_out_evaluation_minutes: int = 1
    scale_in_evaluation_minutes: int = 10
    cooldown_seconds: int = 120


class QueueWorkerScaling(Construct):
    """Exposes `target`, `scale_out_policy`, `scale_in_policy`, `backlog_alarm`, `idle_alarm`."""

    def __init__(self, scope: Construct, id_: str, *, props: QueueWorkerScalingProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.target = ecs_service_target(self, cluster_name=props.cluster_name, service_name=props.service_name,
                                         min_count=props.min_count, max_count=props.max_count)
        per_task = props.messages_per_task
        # Bounds are relative to the alarm threshold (1 visible message): 1..N -> +1, N..5N -> +2, beyond -> +4.
        self.scale_out_policy = self._step_policy("scale-out", props, "ChangeInCapacity", [
            _policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment(
                metric_interval_lower_bound="0", metric_interval_upper_bound=str(per_task), scaling_adjustment=1),
            _policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment(
                metric_interval_lower_bound=str(per_task), metric_interval_upper_bound=str(5 * per_task),
                scaling_adjustment=2),
            _policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment(
                metric_interval_lower_bound=str(5 * per_task), scaling_adjustment=4),
        ])
        # Nothing visible and nothing in flight: every task is idle, go straight to the minimum.
        self.scale_in_policy = self._step_policy("scale-in", props, "ExactCapacity", [
            _policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment(
                metric_interval_upper_bound="0", scaling_adjustment=props.min_count),
        ])
        self.backlog_alarm = _alarm.CloudwatchMetricAlarm(
            self, "backlog-alarm", alarm_name=f"{props.name}-backlog",
            alarm_description=f"messages waiting in {props.queue_name}: add {props.name} tasks",
            namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": props.queue_name}, statistic="Maximum", period=60,
            evaluation_periods=props.scale_out_evaluation_minutes, threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
            alarm_actions=[self.scale_out_policy.arn])
        self.idle_alarm = _alarm.CloudwatchMetricAlarm(
            self, "idle-alarm", alarm_name=f"{props.name}-idle",
            alarm_description=f"{props.queue_name} empty with nothing in flight: scale {props.name} to "
                              f"{props.min_count}",
            evaluation_periods=props.scale_in_evaluation_minutes, threshold=0,
            comparison_operator="LessThanOrEqualToThreshold", treat_missing_data="notBreaching",
            metric_query=[
                self._queue_metric("visible", "ApproximateNumberOfMessagesVisible", props.queue_name),
                self._queue_metric("in_flight", "ApproximateNumberOfMessagesNotVisible", props.queue_name),
                _alarm.CloudwatchMetricAlarmMetricQuery(id="backlog", expression="visible + in_flight",
                                                        label="messages waiting or being processed",
                                                        return_data=True),
            ],
            alarm_actions=[self.scale_in_policy.arn])

    def _step_policy(self, id_: str, props: QueueWorkerScalingProps, adjustment_type: str,
                     steps: list) -> _policy.AppautoscalingPolicy:
        return _policy.AppautoscalingPolicy(
            self, id_, name=f"{props.name}-{id_}", policy_type="StepScaling",
            service_namespace=self.target.service_namespace, scalable_dimension=self.target.scalable_dimension,
            resource_id=self.target.resource_id,
            step_scaling_policy_configuration=_policy.AppautoscalingPolicyStepScalingPolicyConfiguration(
                adjustment_type=adjustment_type, cooldown=props.cooldown_seconds, metric_aggregation_type="Maximum",
                step_adjustment=steps))

    @staticmethod
    def _queue_metric(id_: str, metric: str, queue: str) -> _alarm.CloudwatchMetricAlarmMetricQuery:
        return _alarm.CloudwatchMetricAlarmMetricQuery(
            id=id_, return_data=False, metric=_alarm.CloudwatchMetricAlarmMetricQueryMetric(
                namespace="AWS/SQS", metric_name=metric, dimensions={"QueueName": queue}, period=60,
                stat="Maximum"))


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
