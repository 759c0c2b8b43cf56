"""The SageMaker inference section: the endpoint's name (other stacks agree on it without depending on the
inference stack), the model image and artifact, the endpoint mode with its mode-specific knobs, autoscaling
and alarms.

Why mode-specific knobs are refused in the wrong mode instead of ignored: an `instance_type` left in a
serverless file looks like it does something; refusing it (naming the field and the mode) keeps files honest.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import Field, model_validator

from modules.config.base import StrictModel
from modules.config.image_tag import ImageTag, image_tag_problems
from modules.config.model_version import MODEL_VERSION_PATTERN, model_version_problem
from modules.config.rollout import SHADOW_MODES, DashboardConfig, RolloutConfig, ShadowConfig
from modules.limits import SAGEMAKER_NAME

ENDPOINT_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
# The endpoint-configuration name appends "-<10 hex>" and SageMaker names stop at 63 characters.
MAX_ENDPOINT_NAME = SAGEMAKER_NAME.value - 11
# Model artifacts live at models/<model_name>/<model_version>/model.tar.gz in the artifacts bucket.
MODEL_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$"

# The example model's input (containers/inference/train.py: iris, four features per row).
SMOKE_REQUEST = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'

Mode = Literal["real-time", "serverless", "async"]
MODES: tuple[str, ...] = ("real-time", "serverless", "async")

# Which knobs belong to which modes (every other field applies to all of them).
MODE_FIELDS: dict[str, tuple[str, ...]] = {
    "instance_type": ("real-time", "async"),
    "initial_instance_count": ("real-time", "async"),
    "network_isolation": ("real-time", "async"),
    "vpc": ("real-time", "async"),
    "data_capture_sampling_percentage": ("real-time",),
    "target_invocations_per_instance": ("real-time",),
    "memory_size_mb": ("serverless",),
    "max_concurrency": ("serverless",),
    "provisioned_concurrency": ("serverless",),
    "target_provisioned_concurrency_utilization": ("serverless",),
    "max_concurrent_invocations_per_instance": ("async",),
    "target_backlog_per_instance": ("async",),
}


class InferenceConfig(StrictModel):
    """The SageMaker endpoint; its name is known from config, so compute grants InvokeEndpoint on the exact ARN."""

    endpoint_name: str = Field(
        default="", pattern=rf"{ENDPOINT_NAME_PATTERN}|^$", max_length=MAX_ENDPOINT_NAME,
        description="endpoint name; empty (default) derives <project>-<environment>-inference when loading")
    mode: Mode = Field(default="serverless", description="endpoint mode: real-time, serverless or async")
    image_tag: ImageTag = Field(
        default="1.0.0",
        description="tag (or sha256:<digest>) of the inference image in the registry's `inference` repository "
                    "(PIPELINE_IMAGE_TAG overrides it at synth); one rule for every image tag: "
                    "modules/config/image_tag.py")
    model_name: str = Field(
        default="inference", pattern=MODEL_NAME_PATTERN,
        description="name of the model in the artifacts bucket: models/<model_name>/<model_version>/model.tar.gz")
    model_version: str = Field(
        default="1.0.0", pattern=MODEL_VERSION_PATTERN,
        description="version of the model artifact (a release such as 1.4.2, a date such as 2025-06-01, or a "
                    "content hash); every instance loads exactly this one. A new model gets a new version: "
                    "upload it under the new key, then change this value (the SageMaker model is replaced)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="LOG_LEVEL of the model server")

    # --- real-time and async: instances -------------------------------------------------------------------
    instance_type: str = Field(default="ml.m5.large", pattern=INSTANCE_TYPE_PATTERN,
                               description="[real-time, async] ML instance type")
    initial_instance_count: int = Field(default=1, ge=1, le=100,
                                        description="[real-time, async] instances at creation (autoscaling takes over)")
    network_isolation: bool = Field(
        default=True, description="[real-time, async] the container gets no network at all (the model is local)")
    vpc: bool = Field(default=True,
                      description="[real-time, async] attach the endpoint to the private subnets with its own SG")

    # --- real-time ---------------------------------------------------------------------------------------------
    data_capture_sampling_percentage: int = Field(
        default=20, ge=0, le=100,
        description="[real-time] percentage of requests/responses captured to results/data-capture/ (0: off)")
    target_invocations_per_instance: int = Field(
        default=200, ge=1, le=100_000,
        description="[real-time] autoscaling target of SageMakerVariantInvocationsPerInstance (per minute)")

    # --- serverless ------------------------------------------------------------------------------------------------
    memory_size_mb: int = Field(default=2048, description="[serverless] 1024-6144 in steps of 1024")
    max_concurrency: int = Field(default=5, ge=1, le=200, description="[serverless] concurrent invocations, 1-200")
    provisioned_concurrency: int | None = Field(
        default=None, ge=1, le=200,
        description="[serverless] warm capacity (<= max_concurrency); unset: none, and no autoscaling")
    target_provisioned_concurrency_utilization: float = Field(
        default=0.5, ge=0.1, le=0.95,
        description="[serverless with provisioned concurrency] autoscaling target of "
                    "SageMakerVariantProvisionedConcurrencyUtilization")

    # --- async ----------------------------------------------------------------------------------------------------
    max_concurrent_invocations_per_instance: int = Field(
        default=4, ge=1, le=1000, description="[async] requests the endpoint sends to one instance at a time")
    target_backlog_per_instance: float = Field(
        default=5.0, ge=0.1, le=10_000,
        description="[async] autoscaling target of ApproximateBacklogSizePerInstance")

    # --- autoscaling (real-time, async, serverless with provisioned concurrency) -----------------------------------
    min_capacity: int | None = Field(
        default=None, ge=0, le=1000,
        description="lowest capacity; default 1 (async: 0, i.e. scale to zero); 0 only in async mode")
    max_capacity: int | None = Field(
        default=None, ge=1, le=1000,
        description="highest capacity; default 4 instances (serverless: max_concurrency)")
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600, description="wait after a scale-in")
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600, description="wait after a scale-out")

    # --- releases: rollout, shadow, verification, dashboard (modules/config/rollout.py) -----------------------------
    rollout: RolloutConfig = Field(default_factory=RolloutConfig,
                                   description="how an update reaches the endpoint and when it rolls back")
    shadow: ShadowConfig | None = Field(
        default=None, description="[real-time] a candidate model version receiving a copy of live traffic")
    smoke_request: str = Field(
        default=SMOKE_REQUEST,
        description="JSON body `make verify` posts to /v1/predict after a deploy (must answer 200); fit it to "
                    "your model's input")
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig,
                                       description="the environment's CloudWatch dashboard")

    # --- alarms -----------------------------------------------------------------------------------------------------
    alarm_errors_threshold: int = Field(
        default=5, ge=1, le=100_000,
        description="Invocation5XXErrors / model errors per 5 minutes that raise the alarm")
    alarm_latency_p99_ms: int = Field(default=2000, ge=1, le=3_600_000,
                                      description="ModelLatency p99 (milliseconds) that raises the alarm")

    @model_validator(mode="after")
    def _mode_knobs(self) -> InferenceConfig:
        problems = []
        for name in sorted(self.model_fields_set & set(MODE_FIELDS)):
            modes = MODE_FIELDS[name]
            if self.mode not in modes:
                problems.append(f"{name}: applies only to mode {' or '.join(repr(m) for m in modes)}, "
                                f"not to mode {self.mode!r}; remove it")
        if problem := model_version_problem("model_version", self.model_version):
            problems.append(problem)
        if self.memory_size_mb % 1024 or not 1024 <= self.memory_size_mb <= 6144:
            problems.append(f"memory_size_mb: must be 1024-6144 in steps of 1024, got {self.memory_size_mb}")
        if self.provisioned_concurrency is not None and self.provisioned_concurrency > self.max_concurrency:
            problems.append(f"provisioned_concurrency: must be <= max_concurrency ({self.max_concurrency}), "
                            f"got {self.provisioned_concurrency}")
        if self.min_capacity == 0 and self.mode != "async":
            problems.append(f"min_capacity: 0 (scale to zero) only in mode 'async', not in mode {self.mode!r}")
        if self.autoscaled and self.resolved_min_capacity > self.resolved_max_capacity:
            problems.append(f"min_capacity: must be <= max_capacity ({self.resolved_max_capacity}), "
                            f"got {self.resolved_min_capacity}")
        if self.mode == "serverless" and self.max_capacity is not None and self.max_capacity > self.max_concurrency:
            problems.append(f"max_capacity: provisioned concurrency cannot exceed max_concurrency "
                            f"({self.max_concurrency}), got {self.max_capacity}")
        problems += self._release_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _release_problems(self) -> list[str]:
        problems = self.rollout.problems(mode=self.mode, min_fleet=self.min_fleet, max_fleet=self.max_fleet,
                                         shadow=self.shadow is not None)
        if self.shadow is not None:
            if self.mode not in SHADOW_MODES:
                problems.append(f"shadow: applies only to mode 'real-time' (a shadow variant needs instances), "
                                f"not to mode {self.mode!r}; remove [inference.shadow]")
            if problem := model_version_problem("shadow.model_version", self.shadow.model_version):
                problems.append(problem)
            if self.shadow.model_version == self.model_version and self.shadow.image_tag in (None, self.image_tag):
                problems.append(f"shadow.model_version: {self.shadow.model_version!r} is the production version "
                                f"with the same image: a shadow of itself compares nothing")
        try:
            request = json.loads(self.smoke_request)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            problems.append("smoke_request: must be a JSON object (the body of POST /v1/predict)")
        return problems

    @property
    def min_fleet(self) -> int:
        """Fewest instances the production variant can have (autoscaling's floor, else the initial count)."""
        return self.resolved_min_capacity if self.autoscaled else self.initial_instance_count

    @property
    def max_fleet(self) -> int:
        """Most instances the production variant can have."""
        return self.resolved_max_capacity if self.autoscaled else self.initial_instance_count

    @property
    def model_prefix(self) -> str:
        """Every version of this model lives under this prefix (what the execution role may read, see README)."""
        return f"models/{self.model_name}/"

    def artifact_key(self, version: str) -> str:
        return f"{self.model_prefix}{version}/model.tar.gz"

    @property
    def shadow_artifact_key(self) -> str | None:
        return self.artifact_key(self.shadow.model_version) if self.shadow else None

    @property
    def model_artifact_key(self) -> str:
        """Key of the model.tar.gz in the artifacts bucket (extracted to /opt/ml/model). The version is part of
        the key, so instances added later load the same bytes as the first ones, and a new version is a new key
        (and therefore a new SageMaker model)."""
        return self.artifact_key(self.model_version)

    @property
    def autoscaled(self) -> bool:
        """Plain serverless scales by itself; every other mode gets an Application Auto Scaling target."""
        return self.mode != "serverless" or self.provisioned_concurrency is not None

    @property
    def resolved_min_capacity(self) -> int:
        if self.min_capacity is not None:
            return self.min_capacity
        if self.mode == "serverless":
            return self.provisioned_concurrency or 1
        return 0 if self.mode == "async" else 1

    @property
    def resolved_max_capacity(self) -> int:
        if self.max_capacity is not None:
            return self.max_capacity
        return self.max_concurrency if self.mode == "serverless" else 4

    def problems(self, production: bool) -> list[str]:
        """Checks that need the root config (the loader shows them as `inference.<field>: ...`)."""
        problems = []
        problems += image_tag_problems("inference.image_tag", self.image_tag, production=production)
        if self.shadow is not None and self.shadow.image_tag is not None:
            problems += image_tag_problems("inference.shadow.image_tag", self.shadow.image_tag, production=production)
        return problems


def derived_endpoint_name(project: str, environment: str) -> str:
    """The default endpoint name, filled in by PipelineConfig before validation."""
    return f"{project}-{environment}-inference"


def local_nvme_instance(instance_type: str) -> bool:
    """Instance types with local NVMe storage refuse a volume KMS key (their storage is hardware-encrypted)."""
    family = instance_type.split(".")[1] if instance_type.count(".") == 2 else ""
    return bool(re.fullmatch(r"[a-z]+\d+[a-z]*d[a-z]*|p5e?n?|g5|g6e?|inf2|trn1n?", family))
