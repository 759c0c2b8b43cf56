"""The Application Auto Scaling target of an ECS service's desired count, shared by both scaling styles
(target tracking for the HTTP service, step scaling on backlog for the queue worker)."""

from __future__ import annotations

from typing import Protocol

from constructs import Construct

from modules import aws


def count_bounds_problem(min_count: int, max_count: int) -> str | None:
    """The one message for bounds a scalable target would refuse; None when they are fine."""
    if not 0 <= min_count <= max_count or max_count < 1:
        return (
            f"min_count/max_count must satisfy 0 <= min_count <= max_count, max_count >= 1; got {min_count}/{max_count}"
        )
    return None


class ScaledService(Protocol):
    """What both scaling styles' props say about the service they scale (read-only, as in their frozen props)."""

    @property
    def cluster_name(self) -> str: ...

    @property
    def service_name(self) -> str: ...  # the service resource's name attribute (a token): the target follows it

    @property
    def min_count(self) -> int: ...

    @property
    def max_count(self) -> int: ...


def ecs_service_target(scope: Construct, service: ScaledService) -> aws.appautoscaling_target.AppautoscalingTarget:
    """Register SERVICE's desired count between its min_count and max_count (construct id `target`)."""
    return aws.appautoscaling_target.AppautoscalingTarget(
        scope,
        "target",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=f"service/{service.cluster_name}/{service.service_name}",
        min_capacity=service.min_count,
        max_capacity=service.max_count,
    )
