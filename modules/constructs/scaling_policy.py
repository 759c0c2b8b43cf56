"""A scaling policy on an Application Auto Scaling target, for every scaled thing here (the ECS services, the
SageMaker endpoint variant).

Why one function: a policy names its target by the target's own namespace, dimension and resource id, so it
depends on the target and follows it; and its type must match the one configuration block it carries. The policy
is created in the caller's scope under the caller's id, so each keeps its Terraform address.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from modules import aws


def scaling_policy(
    scope: Construct,
    id_: str,
    *,
    target: aws.appautoscaling_target.AppautoscalingTarget,
    name: str,
    target_tracking: Any = None,
    step_scaling: Any = None,
) -> aws.appautoscaling_policy.AppautoscalingPolicy:
    """Policy NAME on TARGET as SCOPE/ID_: target tracking (TARGET_TRACKING, the provider's configuration struct)
    or step scaling (STEP_SCALING), exactly one of them."""
    if (target_tracking is None) == (step_scaling is None):
        raise ValueError(f"{id_}: a scaling policy takes exactly one of target_tracking and step_scaling")
    return aws.appautoscaling_policy.AppautoscalingPolicy(
        scope,
        id_,
        name=name,
        policy_type="TargetTrackingScaling" if target_tracking is not None else "StepScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        target_tracking_scaling_policy_configuration=target_tracking,
        step_scaling_policy_configuration=step_scaling,
    )
