"""Target-tracking autoscaling of an HTTP Fargate service on CPU and on load-balancer requests per task.

Why two metrics: CPU tracks model cost per request, requests-per-target tracks load before CPU saturates;
Application Auto Scaling scales out on whichever asks for more and scales in only when both allow it.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.ecs_service_target import count_bounds_problem, ecs_service_target
from modules.constructs.scaling_policy import scaling_policy


@dataclass(frozen=True, kw_only=True)
class ServiceAutoscalingProps:
    """The service, its bounds and its targets."""

    cluster_name: str
    service_name: str  # the service resource's name attribute (a token), so the target follows the service
    min_count: int
    max_count: int
    cpu_target_percent: int  # average CPU across tasks
    requests_per_target: int | None  # ALB requests per task per minute; None: CPU only
    load_balancer_arn_suffix: str = ""  # aws_lb.arn_suffix, needed with requests_per_target
    target_group_arn_suffix: str = ""  # aws_lb_target_group.arn_suffix, needed with requests_per_target
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int


class ServiceAutoscaling(Construct):
    """Exposes `target`, `cpu_policy`, `requests_policy` (None without a load balancer)."""

    def __init__(self, scope: Construct, id_: str, *, props: ServiceAutoscalingProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.target = ecs_service_target(self, props)
        self.cpu_policy = self._tracking(
            "cpu",
            props,
            props.cpu_target_percent,
            aws.appautoscaling_policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification(
                predefined_metric_type="ECSServiceAverageCPUUtilization"
            ),
        )
        self.requests_policy = None
        if props.requests_per_target is not None:
            self.requests_policy = self._tracking(
                "requests",
                props,
                props.requests_per_target,
                aws.appautoscaling_policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification(
                    predefined_metric_type="ALBRequestCountPerTarget",
                    resource_label=f"{props.load_balancer_arn_suffix}/{props.target_group_arn_suffix}",
                ),
            )

    def _tracking(
        self, id_: str, props: ServiceAutoscalingProps, target: int, metric
    ) -> aws.appautoscaling_policy.AppautoscalingPolicy:
        return scaling_policy(
            self,
            id_,
            target=self.target,
            name=f"{id_}-target-tracking",
            target_tracking=aws.appautoscaling_policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration(
                target_value=target,
                predefined_metric_specification=metric,
                scale_in_cooldown=props.scale_in_cooldown_seconds,
                scale_out_cooldown=props.scale_out_cooldown_seconds,
            ),
        )


def _validate(id_: str, props: ServiceAutoscalingProps) -> None:
    problems = []
    if bounds := count_bounds_problem(props.min_count, props.max_count):
        problems.append(bounds)
    if not 10 <= props.cpu_target_percent <= 90:
        problems.append(f"cpu_target_percent must be 10-90, got {props.cpu_target_percent}")
    if props.requests_per_target is not None and not (props.load_balancer_arn_suffix and props.target_group_arn_suffix):
        problems.append("requests_per_target needs load_balancer_arn_suffix and target_group_arn_suffix")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
