"""The compute stack: Lambda functions, the ECS cluster, the Fargate inference service with its load balancer,
and the queue worker. Checks that need other sections (queue names, production) are in `problems()`.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from lambdas.contract import BACKEND_HTTP, BACKEND_SAGEMAKER
from modules.config.base import StrictModel
from modules.config.fargate import (
    InferenceServiceConfig,
    LoadBalancerConfig,
    QueueWorkerConfig,
)
from modules.config.image_tag import image_tag_problems
from modules.config.lambdas import LambdaConfig


class ComputeConfig(StrictModel):
    """Where the model runs for the functions, and every compute knob."""

    model_backend: Literal["sagemaker", "http"] = Field(
        default=BACKEND_SAGEMAKER,
        description=f"what predict/worker call: {BACKEND_SAGEMAKER} (the endpoint) or {BACKEND_HTTP} (the Fargate "
                    "service behind the load balancer)")
    model_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/]+(:\d+)?$",
        description="MODEL_URL override for the http backend; default: the load balancer (https://<tls_server_name> "
                    "when it has a certificate: a DNS record of that name must point at it)")
    egress_to_internet: bool = Field(
        default=False, description="allow HTTPS egress to 0.0.0.0/0 (through NAT); default: only the VPC (interface "
                                   "endpoints) and the S3 gateway endpoint")
    lambdas: LambdaConfig = Field(default_factory=LambdaConfig)
    inference_service: InferenceServiceConfig = Field(default_factory=InferenceServiceConfig)
    load_balancer: LoadBalancerConfig = Field(default_factory=LoadBalancerConfig)
    queue_worker: QueueWorkerConfig = Field(default_factory=QueueWorkerConfig)

    def problems(self, *, production: bool, queue_names: tuple[str, ...], function_names: tuple[str, ...] = ()) -> list[str]:
        """Checks across sections: production tags and TLS, queue names that exist, a reachable http backend."""
        problems = []
        for section in ("inference_service", "queue_worker"):
            service = getattr(self, section)
            if service.enabled:
                problems += image_tag_problems(f"compute.{section}.image_tag", service.image_tag, production=production)
        if production and self.inference_service.enabled and not self.load_balancer.tls:
            problems.append("compute.load_balancer.certificate_arn: required when production = true (API Gateway and "
                            "the functions send confidential data to the load balancer); set certificate_arn (ACM, "
                            "same region) and tls_server_name (the DNS name the certificate carries)")
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
        problems += self._model_url_problems()
        return problems

    def _model_url_problems(self) -> list[str]:
        """With an HTTPS load balancer, MODEL_URL must be a URL whose certificate check can succeed."""
        if self.model_backend != BACKEND_HTTP or not self.inference_service.enabled or not self.load_balancer.tls \
                or not self.model_url:
            return []
        url = urlsplit(self.model_url)
        name = self.load_balancer.tls_server_name
        if url.scheme != "https" or url.hostname != name:
            return [f"compute.model_url: {self.model_url!r} cannot verify the load balancer's certificate; with "
                    f"certificate_arn use https://{name} (compute.load_balancer.tls_server_name), or leave it unset"]
        return []

    def worker_queue_for_fargate(self, queue_names: tuple[str, ...]) -> str | None:
        """The queue whose backlog scales the queue worker (None when it is disabled)."""
        if not self.queue_worker.enabled or not queue_names:
            return None
        return self.queue_worker.queue or queue_names[0]

    def lambda_worker_queues(self, queue_names: tuple[str, ...]) -> tuple[str, ...]:
        """The queues the worker function consumes: the configured ones, else every work queue."""
        return tuple(self.lambdas.worker_queues) if self.lambdas.worker_queues is not None else queue_names
