"""The Application Auto Scaling target of an ECS service's desired count, shared by both scaling styles
(target tracking for the HTTP service, step scaling on backlog for the queue worker)."""

from __future__ import annotations

from constructs import Construct

from modules import aws


def count_bounds_problem(min_count: int, max_count: int) -> str | None:
    """The one message for bounds a scalable target would refuse; None when they are fine."""
    if not 0 <= min_count <= max_count or max_count < 1:
        return (
            f"min_count/max_count must satisfy 0 <= min_count <= max_count, max_count >= 1; got {min_count}/{max_count}"
        )
    return None


def ecs_service_target(
    scope: Construct, *, cluster_name: str, service_name: str, min_count: int, max_count: int
) -> aws.appautoscaling_target.AppautoscalingTarget:
    """Register SERVICE_NAME's desired count between MIN_COUNT and MAX_COUNT (construct id `target`)."""
    return aws.appautoscaling_target.AppautoscalingTarget(
        scope,
        "target",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=f"service/{cluster_name}/{service_name}",
        min_capacity=min_count,
        max_capacity=max_count,
    )
