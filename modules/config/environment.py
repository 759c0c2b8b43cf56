"""The root of an environment file (`config/<env>.toml`): one typed model per section."""

from __future__ import annotations

from pydantic import Field, model_validator

from modules.config.api import ApiConfig
from modules.config.backend import BackendConfig, LocalBackendConfig
from modules.config.base import AccountId, Region, ResourceName, RetentionDays, StrictModel
from modules.config.compute import ComputeConfig
from modules.config.emulator import EmulatorConfig
from modules.config.inference import InferenceConfig, derived_endpoint_name
from modules.config.messaging import MessagingConfig
from modules.config.network import NetworkConfig
from modules.config.registry import RegistryConfig
from modules.config.state import StateConfig
from modules.config.storage import StorageConfig


class PipelineConfig(StrictModel):
    """Everything one environment of the pipeline can change; every field defaulted to the secure choice."""

    project: ResourceName = Field(default="inference", description="prefix of every resource name")
    environment: ResourceName = Field(description="environment name, e.g. local, dev, prod")
    production: bool = Field(default=False, description="turns on deletion protection and refuses mutable tags")
    region: Region = Field(default="eu-west-1", description="AWS region of every stack")
    allowed_account_ids: tuple[AccountId, ...] = Field(
        default=(), description="accounts the provider may touch; required with the s3 backend")
    tags: dict[str, str] = Field(default_factory=dict, description="extra default tags on every resource")
    log_retention_days: RetentionDays = Field(default=30, description="retention of every log group")
    backend: BackendConfig = Field(default_factory=LocalBackendConfig, description="Terraform state backend")
    state: StateConfig = Field(default_factory=StateConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    messaging: MessagingConfig = Field(default_factory=MessagingConfig)
    emulator: EmulatorConfig = Field(default_factory=EmulatorConfig)
    inference: InferenceConfig = Field(default_factory=InferenceConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)

    @model_validator(mode="before")
    @classmethod
    def _derive_names(cls, data: object) -> object:
        """Names other stacks must agree on (the SageMaker endpoint) are derived once, here."""
        if isinstance(data, dict) and isinstance(data.get("inference", {}), dict):
            inference = dict(data.get("inference") or {})
            if not inference.get("endpoint_name"):
                inference["endpoint_name"] = derived_endpoint_name(
                    str(data.get("project", "inference")), str(data.get("environment", "")))
            data = {**data, "inference": inference}
        return data

    @model_validator(mode="after")
    def _combinations(self) -> PipelineConfig:
        problems = []
        if self.backend.type == "s3" and not self.allowed_account_ids:
            problems.append("allowed_account_ids: required (at least one 12-digit id) with the s3 backend")
        if self.production and self.backend.type != "s3":
            problems.append("backend.type: must be 's3' when production = true")
        if self.production and self.registry.force_delete:
            problems.append("registry.force_delete: must be false when production = true")
        problems.extend(self.network.problems(self.region))
        problems.extend(self.storage.problems(self.name_prefix))
        problems.extend(self.messaging.problems(self.name_prefix, self.production))
        problems.extend(self.compute.problems(production=self.production,
                                              queue_names=tuple(queue.name for queue in self.messaging.queues),
                                              name_prefix=self.name_prefix, inference=self.inference, api=self.api))
        problems.extend(self.inference.problems(self.production))
        problems.extend(self.api.problems(self.production))
        if self.production and self.storage.force_destroy:
            problems.append("storage.force_destroy: must be false when production = true")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def name_prefix(self) -> str:
        """`<project>-<environment>`: the prefix of every physical resource name."""
        return f"{self.project}-{self.environment}"

    @property
    def state_bucket_name(self) -> str:
        return self.state.bucket_name or f"{self.name_prefix}-tfstate"
