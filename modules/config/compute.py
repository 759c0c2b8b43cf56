"""The compute stack: Lambda functions, the ECS cluster, the Fargate inference service with its load balancer,
and the queue worker. Checks that need other sections (queue names, production) are in `problems()`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lambdas.contract import BACKEND_HTTP, BACKEND_SAGEMAKER
from modules.config.base import StrictModel
from modules.config.fargate import (
    InferenceServiceConfig,
    LoadBalancerConfig,
    QueueWorkerConfig,
    tag_problems,
)
from modules.config.lambdas import LambdaConfig


class ComputeConfig(StrictModel):
    """Where the model runs for the functions, and every compute knob."""

    model_backend: Literal["sagemaker", "http"] = Field(
        default=BACKEND_SAGEMAKER,
        description=f"what predict/worker call: {BACKEND_SAGEMAKER} (the endpoint) or {BACKEND_HTTP} (the Fargate "
                    "service behind the load balancer)")
    model_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(:\d+)?$",
                                  description="MODEL_URL override for the http backend; default: the load balancer")
    egress_to_internet: bool = Field(
        default=False, description="allow HTTPS egress to 0.0.0.0/0 (through NAT); default: only the VPC (interface "
                                   "endpoints) and the S3 gateway endpoint")
    lambdas: LambdaConfig = Field(default_factory=LambdaConfig)
    inference_service: InferenceServiceConfig = Field(default_factory=InferenceServiceConfig)
    load_balancer: LoadBalancerConfig = Field(default_factory=LoadBalancerConfig)
    queue_worker: QueueWorkerConfig = Field(default_factory=QueueWorkerConfig)

    def problems(self, *, production: bool, queue_names: tuple[str, ...], function_names: tuple[str, ...] = ()) -> list[str]:
        """Checks across sections: production tags, queue names that exist, a reachable http backend."""
        problems = []
        if production:
            if self.inference_service.enabled:
                problems += tag_problems("compute.inference_service", self.inference_service.image_tag)
            if self.queue_worker.enabled:
                problems += tag_problems("compute.queue_worker", self.queue_worker.image_tag)
        known = ", ".join(queue_names)
        if self.queue_worker.enabled and self.queue_worker.queue is not None and self.queue_worker.queue not in queue_names:
            problems.append(f"compute.queue_worker.queue: no work queue {self.queue_worker.queue!r}; allowed: {known}")
        for queue in self.lambdas.worker_queues or ():
            if queue not in queue_names:
                problems.append(f"compute.lambdas.worker_queues: no work queue {queue!r}; allowed: {known}")
        if function_names:
            for name in sorted(set(self.lambdas.functions) - set(function_names)):
                problems.append(f"compute.lambdas.functions: no function {name!r} in lambdas/; "
                                f"allowed: {', '.join(function_names)}")
        if self.model_backend == BACKEND_HTTP and not self.inference_service.enabled and not self.model_url:
            problems.append("compute.model_backend: 'http' needs inference_service.enabled = true or a model_url")
        return problems

    def worker_queue_for_fargate(self, queue_names: tuple[str, ...]) -> str | None:
        """The queue whose backlog scales the queue worker (None when it is disabled)."""
        if not self.queue_worker.enabled or not queue_names:
            return None
        return self.queue_worker.queue or queue_names[0]

    def lambda_worker_queues(self, queue_names: tuple[str, ...]) -> tuple[str, ...]:
        """The queues the worker function consumes: the configured ones, else every work queue."""
        return tuple(self.lambdas.worker_queues) if self.lambdas.worker_queues is not None else queue_names
