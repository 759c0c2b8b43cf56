"""Application Auto Scaling of a SageMaker endpoint variant, on the metric that fits the endpoint's mode.

Why one metric per mode: CPU says little about a model server. Real-time endpoints scale on invocations per
instance; async endpoints on the queue backlog per instance, down to zero instances, with a step policy that
wakes a scaled-to-zero endpoint (target tracking cannot scale out from zero: backlog per instance is undefined
with no instance); serverless endpoints scale their provisioned concurrency on its utilization. Plain
serverless endpoints scale by themselves and get nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.scaling_policy import scaling_policy
from modules.limits import ENDPOINT_MODES, EndpointMode, either

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
INSTANCE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PROVISIONED_CONCURRENCY_DIMENSION = "sagemaker:variant:DesiredProvisionedConcurrency"


@dataclass(frozen=True, kw_only=True)
class EndpointAutoscalingProps:
    """Which variant, its capacity range and the target of the mode's metric."""

    endpoint_name: str  # pass the endpoint resource's name attribute: the target then depends on the endpoint
    variant_name: str  # production variant, e.g. "primary"
    mode: EndpointMode  # serverless: provisioned concurrency is scaled
    min_capacity: int  # 0 only in async mode (scale to zero)
    max_capacity: int
    target_value: float  # invocations per instance per minute / backlog per instance / utilization (0.1-0.95)
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int
    alarm_name_prefix: str = ""  # async only: name prefix of the HasBacklogWithoutCapacity alarm


class EndpointAutoscaling(Construct):
    """Exposes `target`, `policy` (target tracking) and, in async mode, `wake_policy` and `wake_alarm`."""

    def __init__(self, scope: Construct, id_: str, *, props: EndpointAutoscalingProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        dimension = INSTANCE_DIMENSION if ENDPOINT_MODES[props.mode].instances else PROVISIONED_CONCURRENCY_DIMENSION
        self.target = aws.appautoscaling_target.AppautoscalingTarget(
            self,
            "target",
            service_namespace="sagemaker",
            scalable_dimension=dimension,
            resource_id=f"endpoint/{props.endpoint_name}/variant/{props.variant_name}",
            min_capacity=props.min_capacity,
            max_capacity=props.max_capacity,
        )
        tracking = aws.appautoscaling_policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration(
            target_value=props.target_value,
            scale_in_cooldown=props.scale_in_cooldown_seconds,
            scale_out_cooldown=props.scale_out_cooldown_seconds,
            **_metric(props),
        )
        self.policy = scaling_policy(
            self,
            "target-tracking",
            target=self.target,
            name=f"{_metric_name(props)}-target-tracking",
            target_tracking=tracking,
        )
        self.wake_policy = self.wake_alarm = None
        if props.mode == "async":
            self._wake_from_zero(props)

    def _wake_from_zero(self, props: EndpointAutoscalingProps) -> None:
        self.wake_policy = scaling_policy(
            self,
            "wake-from-zero",
            target=self.target,
            name="HasBacklogWithoutCapacity-step",
            step_scaling=aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfiguration(
                adjustment_type="ChangeInCapacity",
                cooldown=props.scale_out_cooldown_seconds,
                metric_aggregation_type="Average",
                step_adjustment=[
                    aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment(
                        metric_interval_lower_bound="0", scaling_adjustment=1
                    )
                ],
            ),
        )
        self.wake_alarm = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            self,
            "has-backlog-without-capacity",
            alarm_name=f"{props.alarm_name_prefix or props.endpoint_name}-has-backlog-without-capacity",
            alarm_description="requests are queued while the async endpoint has no instance: add one",
            namespace=SAGEMAKER_NAMESPACE,
            metric_name="HasBacklogWithoutCapacity",
            dimensions={"EndpointName": props.endpoint_name},
            statistic="Average",
            period=60,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[self.wake_policy.arn],
        )


def _metric_name(props: EndpointAutoscalingProps) -> str:
    return {
        "real-time": "SageMakerVariantInvocationsPerInstance",
        "async": "ApproximateBacklogSizePerInstance",
        "serverless": "SageMakerVariantProvisionedConcurrencyUtilization",
    }[props.mode]


def _metric(props: EndpointAutoscalingProps) -> dict:
    if props.mode == "async":
        return {
            "customized_metric_specification": aws.appautoscaling_policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecification(
                namespace=SAGEMAKER_NAMESPACE,
                metric_name=_metric_name(props),
                statistic="Average",
                dimensions=[
                    aws.appautoscaling_policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensions(
                        name="EndpointName", value=props.endpoint_name
                    )
                ],
            )
        }
    return {
        "predefined_metric_specification": aws.appautoscaling_policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification(
            predefined_metric_type=_metric_name(props)
        )
    }


def _validate(id_: str, props: EndpointAutoscalingProps) -> None:
    problems = []
    if props.mode not in ENDPOINT_MODES:
        problems.append(f"mode must be {either(list(ENDPOINT_MODES))}, got {props.mode!r}")
    floor = 0 if props.mode == "async" else 1
    if props.min_capacity < floor:
        problems.append(
            f"min_capacity must be >= {floor} in mode {props.mode!r} (scale to zero only in async), "
            f"got {props.min_capacity}"
        )
    if props.max_capacity < max(props.min_capacity, 1):
        problems.append(f"max_capacity must be >= max(min_capacity, 1), got {props.max_capacity}")
    if props.target_value <= 0:
        problems.append(f"target_value must be > 0, got {props.target_value}")
    if props.mode == "serverless" and not 0.1 <= props.target_value <= 0.95:
        problems.append(
            f"target_value (provisioned-concurrency utilization) must be 0.1-0.95, got {props.target_value}"
        )
    for name in ("scale_in_cooldown_seconds", "scale_out_cooldown_seconds"):
        if not 0 <= getattr(props, name) <= 3600:
            problems.append(f"{name} must be 0-3600, got {getattr(props, name)}")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
