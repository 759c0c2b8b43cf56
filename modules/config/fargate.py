"""The Fargate services: the HTTP inference service behind the load balancer and the queue worker.

Why the CPU/memory pairs are checked here: Fargate accepts only the pairs of modules/limits.py, and a wrong one
otherwise fails at `terraform apply` with a message that does not say which values would have worked.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from modules.config.base import StrictModel
from modules.config.image_tag import ImageTag
from modules.limits import FARGATE_MEMORY_BY_CPU, FARGATE_STOP_TIMEOUT, SQS_RECEIVE_BATCH, fargate_size_problems


class FargateTaskConfig(StrictModel):
    """What every Fargate service shares: image, size, counts."""

    image: str = Field(
        default="inference",
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="image = folder in containers/ (its ECR repository)",
    )
    image_tag: ImageTag = Field(
        default="1.0.0",
        description="tag or sha256:<digest> to run (PIPELINE_IMAGE_TAG overrides it at synth); moving tags such as "
        "latest are refused, production also refuses tags that do not look immutable",
    )
    cpu: int = Field(default=512, description=f"CPU units; allowed: {', '.join(map(str, FARGATE_MEMORY_BY_CPU))}")
    memory: int = Field(default=1024, description="memory in MiB; must be one Fargate allows for the cpu")
    min_count: int = Field(default=1, ge=0, le=1000, description="fewest tasks autoscaling keeps")
    desired_count: int = Field(
        default=1, ge=0, le=1000, description="tasks at creation; afterwards autoscaling owns the count"
    )
    max_count: int = Field(default=4, ge=1, le=1000, description="most tasks autoscaling starts")

    @model_validator(mode="after")
    def _size_and_counts(self) -> FargateTaskConfig:
        problems = fargate_size_problems(self.cpu, self.memory)
        if not self.min_count <= self.desired_count <= self.max_count:
            problems.append(
                f"min_count/desired_count/max_count: must satisfy min_count <= desired_count <= max_count, got "
                f"{self.min_count} <= {self.desired_count} <= {self.max_count}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class InferenceServiceConfig(FargateTaskConfig):
    """The HTTP model server (SageMaker container contract) behind the load balancer."""

    enabled: bool = Field(default=True, description="run the Fargate inference service and its load balancer")
    cpu_target_percent: int = Field(default=60, ge=10, le=90, description="target tracking: average CPU")
    requests_per_target: int = Field(
        default=200, ge=1, le=100000, description="target tracking: ALB requests per task per minute"
    )
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600, description="wait after a scale-in")
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600, description="wait after a scale-out")
    health_check_grace_seconds: int = Field(
        default=60,
        ge=0,
        le=3600,
        description="time a new task has to load the model before the load balancer's health checks count",
    )
    max_payload_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="MAX_PAYLOAD_BYTES of the model server; default: the largest body that can reach it (API "
        "Gateway's 10 MB when it answers /v1/predict, else what a Lambda caller can send)",
    )


class QueueWorkerConfig(FargateTaskConfig):
    """The queue consumer (the inference image's `work` command) on Fargate, mostly on Spot capacity, scaled on its
    queue's backlog per task, optionally down to zero tasks."""

    enabled: bool = Field(default=True, description="run the queue worker service")
    queue: str | None = Field(
        default=None,
        description="the work queue (messaging.queues name) it consumes, and whose backlog scales it; "
        "default: the first work queue. A queue has exactly one consumer: the worker "
        "function takes the others (compute.lambdas.worker_queues)",
    )
    model_backend: Literal["sagemaker", "http"] | None = Field(
        default=None,
        description="what its jobs call: sagemaker (the endpoint; an async endpoint gets each job handed "
        "off) or http (the inference service); default: compute.model_backend",
    )
    batch_size: int = Field(
        default=5,
        ge=1,
        le=SQS_RECEIVE_BATCH.value,
        description="messages per long poll, worked on at once by one task (1-10)",
    )
    stop_timeout_seconds: int = Field(
        default=FARGATE_STOP_TIMEOUT.value,
        ge=2,
        le=FARGATE_STOP_TIMEOUT.value,
        description="seconds between SIGTERM and SIGKILL (a deploy, a scale-in, a Spot interruption's two-minute "
        "warning): one long poll plus the slowest job must fit (checked at synth)",
    )
    fargate_base: int = Field(
        default=1, ge=0, le=100_000, description="the first tasks always run on on-demand FARGATE capacity"
    )
    fargate_weight: int = Field(
        default=0, ge=0, le=1000, description="share of the tasks beyond the base placed on on-demand FARGATE"
    )
    fargate_spot_weight: int = Field(
        default=1,
        ge=0,
        le=1000,
        description="share of the tasks beyond the base placed on FARGATE_SPOT (0: no "
        "Spot; Spot tasks may be stopped with a two-minute warning)",
    )
    min_count: int = Field(default=0, ge=0, le=1000, description="fewest tasks; 0 scales to zero on an empty queue")
    desired_count: int = Field(
        default=0, ge=0, le=1000, description="tasks at creation; afterwards autoscaling owns the count"
    )
    messages_per_task: int = Field(
        default=10,
        ge=1,
        le=100000,
        description="target backlog per task (visible messages / running tasks) that target tracking keeps; also "
        "the step size of the wake-up from zero tasks",
    )
    scale_out_evaluation_minutes: int = Field(
        default=1, ge=1, le=60, description="minutes of backlog with no task running before waking up"
    )
    scale_in_evaluation_minutes: int = Field(default=10, ge=1, le=60, description="empty-queue minutes before scale-in")
    cooldown_seconds: int = Field(default=120, ge=0, le=3600, description="wait between scaling steps")

    @model_validator(mode="after")
    def _some_capacity_has_weight(self) -> QueueWorkerConfig:
        if self.fargate_weight == 0 and self.fargate_spot_weight == 0:
            raise ValueError(
                "fargate_weight/fargate_spot_weight: at least one must be > 0 (ECS places tasks beyond "
                "the base by weight); e.g. fargate_spot_weight = 1"
            )
        return self

    @property
    def capacity_provider_strategy(self) -> tuple[tuple[str, int, int], ...]:
        """(capacity provider, base, weight) of each provider with a base or a weight, FARGATE first."""
        shares = (("FARGATE", self.fargate_base, self.fargate_weight), ("FARGATE_SPOT", 0, self.fargate_spot_weight))
        return tuple(share for share in shares if share[1] or share[2])


# A DNS host name (no wildcard, no trailing dot): what a TLS client sends as SNI and checks the certificate against.
HOST_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"


class LoadBalancerConfig(StrictModel):
    """The load balancer in front of the inference service: internal, HTTPS whenever a certificate is given
    (production requires one; a public load balancer too)."""

    internal: bool = Field(default=True, description="reachable only inside the VPC (the API reaches it by VPC link)")
    certificate_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/.+$",
        description="ACM certificate (same region): HTTPS listener plus HTTP->HTTPS "
        "redirect; required when internal = false or production = true",
    )
    tls_server_name: str | None = Field(
        default=None,
        pattern=HOST_NAME,
        max_length=253,
        description="[with certificate_arn] the DNS name the certificate carries: API Gateway verifies the listener's "
        "certificate against it (integration tls_config), and an https MODEL_URL must use it",
    )
    ssl_policy: str = Field(default="ELBSecurityPolicy-TLS13-1-2-2021-06", description="TLS policy of the listener")
    idle_timeout_seconds: int = Field(default=60, ge=1, le=4000, description="connection idle timeout")
    deletion_protection: bool | None = Field(default=None, description="default: on exactly when production = true")

    @model_validator(mode="after")
    def _tls_settings_go_together(self) -> LoadBalancerConfig:
        problems = []
        if not self.internal and not self.certificate_arn:
            problems.append("internal = false needs certificate_arn: a public load balancer serves HTTPS only")
        if self.certificate_arn and not self.tls_server_name:
            problems.append(
                "certificate_arn needs tls_server_name: the DNS name the certificate carries, which "
                'API Gateway verifies (e.g. "model.internal.example.com")'
            )
        if self.tls_server_name and not self.certificate_arn:
            problems.append(
                "tls_server_name applies only with certificate_arn (an HTTPS listener); set both or neither"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def tls(self) -> bool:
        """The listener speaks HTTPS."""
        return self.certificate_arn is not None
