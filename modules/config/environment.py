"""The root of an environment file (`config/<env>.toml`): one typed model per section."""

from __future__ import annotations

from pydantic import Field, model_validator

from modules.config.api import ApiConfig
from modules.config.backend import BackendConfig, LocalBackendConfig, S3BackendConfig
from modules.config.base import RESOURCE_NAME, AccountId, Region, ResourceName, RetentionDays, StrictModel
from modules.config.batch import BatchConfig
from modules.config.compute import ComputeConfig
from modules.config.emulator import EmulatorConfig
from modules.config.inference import MAX_ENDPOINT_NAME, InferenceConfig, derived_endpoint_name
from modules.config.messaging import MessagingConfig
from modules.config.network import NetworkConfig
from modules.config.registry import RegistryConfig
from modules.config.state import StateConfig
from modules.config.storage import StorageConfig
from modules.limits import SAGEMAKER_NAME, name_problem


def partition_of(region: str) -> str:
    """The AWS partition of REGION, for ARNs that cannot wait for the aws_partition data source (backend blocks)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class PipelineConfig(StrictModel):
    """Everything one environment of the pipeline can change; every field defaulted to the secure choice."""

    project: ResourceName = Field(default="inference", description="prefix of every resource name")
    environment: ResourceName = Field(description="environment name, e.g. local, dev, prod")
    production: bool = Field(default=False, description="turns on deletion protection and refuses mutable tags")
    region: Region = Field(default="eu-west-1", description="AWS region of every stack")
    allowed_account_ids: tuple[AccountId, ...] = Field(
        default=(),
        description="accounts the provider may touch; required with the s3 backend; the first is the "
        "account id that makes default bucket names globally unique",
    )
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
    batch: BatchConfig = Field(default_factory=BatchConfig)

    @model_validator(mode="before")
    @classmethod
    def _derive_names(cls, data: object) -> object:
        """Names other stacks must agree on (the SageMaker endpoint) are derived once, here."""
        if isinstance(data, dict) and isinstance(data.get("inference", {}), dict):
            inference = dict(data.get("inference") or {})
            project, environment = data.get("project", "inference"), data.get("environment", "")
            # Derived only from valid names (an invalid one is refused on its own field) and only when it fits: a
            # name that does not is refused with the other name problems (_combinations), by the settings it is
            # made of, not as a field the user never wrote.
            if not inference.get("endpoint_name") and all(
                isinstance(name, str) and RESOURCE_NAME.fullmatch(name) for name in (project, environment)
            ):
                derived = derived_endpoint_name(project, environment)
                if len(derived) <= MAX_ENDPOINT_NAME:
                    inference["endpoint_name"] = derived
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
        if not self.inference.endpoint_name:
            problems.append(self._derived_endpoint_problem())
        problems.extend(self.network.problems(self.region))
        problems.extend(self.network.name_problems(self.name_prefix))
        problems.extend(self.storage.problems(self.name_prefix, self.account_id))
        problems.extend(self.state.problems(self.name_prefix, self.account_id))
        problems.extend(self._state_problems())
        problems.extend(self.messaging.problems(self.name_prefix, self.production))
        problems.extend(
            self.compute.problems(
                production=self.production,
                queue_names=tuple(queue.name for queue in self.messaging.queues),
                name_prefix=self.name_prefix,
                inference=self.inference,
                api=self.api,
            )
        )
        problems.extend(
            self.compute.visibility_problems(
                {
                    queue.name: (
                        f"messaging.queues.{index}.visibility_timeout_seconds",
                        queue.visibility_timeout_seconds,
                    )
                    for index, queue in enumerate(self.messaging.queues)
                }
            )
        )
        problems.extend(
            self.compute.orchestrator_problems(account_id=self.account_id, predict_backend=self.api.predict_backend)
        )
        problems.extend(self.inference.problems(self.production))
        if self.inference.mode == "async" and self.messaging.fifo_topics:
            problems.append(
                "inference.mode: 'async' needs standard topics: its results are announced on the results "
                "topic without a message group, which a FIFO topic (messaging.fifo_topics = true) refuses; "
                "set messaging.fifo_topics = false or use another mode"
            )
        problems.extend(self.api.problems(self.production))
        problems.extend(
            self.batch.problems(
                production=self.production,
                name_prefix=self.name_prefix,
                lambdas_in_vpc=self.compute.lambdas.in_vpc,
                nat=self.network.nat,
                interface_endpoints=self.network.interface_endpoints,
                fifo_topics=self.messaging.fifo_topics,
            )
        )
        if self.production and self.storage.force_destroy:
            problems.append("storage.force_destroy: must be false when production = true")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _derived_endpoint_problem(self) -> str:
        return name_problem(
            SAGEMAKER_NAME,
            derived_endpoint_name(self.project, self.environment),
            "derived SageMaker endpoint",
            "<project>-<environment>-inference",
            "project, environment",
            maximum=MAX_ENDPOINT_NAME,
            reason=f"the {MAX_ENDPOINT_NAME} that leave room for the -<hash> of the endpoint configuration and model "
            f"names (SageMaker names stop at {SAGEMAKER_NAME.value})",
            fix="shorten project or environment, or set inference.endpoint_name",
        )

    @property
    def name_prefix(self) -> str:
        """`<project>-<environment>`: the prefix of every physical resource name."""
        return f"{self.project}-{self.environment}"

    def _state_problems(self) -> list[str]:
        """The backend must point at what the state stack creates; the state bucket admits only listed roles."""
        problems = []
        backend, state = self.backend, self.state
        if isinstance(backend, S3BackendConfig):
            # One name for one bucket: a backend elsewhere would keep state where neither the state key nor the
            # principal restriction applies, while the state stack builds a bucket nobody uses.
            if backend.bucket and backend.bucket != self.state_bucket_name:
                problems.append(
                    f"backend.bucket: {backend.bucket!r} is not the state stack's bucket "
                    f"{self.state_bucket_name!r}; leave backend.bucket out (it defaults to the state "
                    "bucket), or rename both with state.bucket_name"
                )
            if backend.region and backend.region != self.region:
                problems.append(
                    f"backend.region: {backend.region!r} is not {self.region!r}, where the state stack "
                    "creates the state bucket; leave backend.region out"
                )
            if (
                backend.kms_key_id
                and ":alias/" in backend.kms_key_id
                and backend.kms_key_id != self.state_key_alias_arn
            ):
                problems.append(
                    f"backend.kms_key_id: the state bucket refuses state encrypted with any key but its "
                    f"own; use {self.state_key_alias_arn} or the key ARN (output state_kms_key_arn)"
                )
        elif state.self_managed:
            problems.append("state.self_managed: needs backend.type = 's3' (the bucket the state stack moves into)")
        if self.production and not state.allowed_principal_arns:
            problems.append(
                "state.allowed_principal_arns: required when production = true (the role ARNs that "
                "plan and deploy, and a break-glass role)"
            )
        foreign = [arn for arn in state.allowed_principal_arns if arn.split(":")[4] not in self.allowed_account_ids]
        if foreign:
            problems.append(
                f"state.allowed_principal_arns: {', '.join(foreign)} not in allowed_account_ids "
                f"({', '.join(self.allowed_account_ids) or 'none'}); the state bucket grants nothing "
                "to other accounts"
            )
        return problems

    @property
    def account_id(self) -> str | None:
        """The account the environment deploys to (the first of allowed_account_ids); None without one (local)."""
        return self.allowed_account_ids[0] if self.allowed_account_ids else None

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    @property
    def state_bucket_name(self) -> str:
        return self.state.bucket_names(self.name_prefix, self.account_id)[0]

    @property
    def state_access_log_bucket_name(self) -> str:
        return self.state.bucket_names(self.name_prefix, self.account_id)[1]

    @property
    def state_key_alias(self) -> str:
        """Alias (without `alias/`) of the state stack's key: a name known before the key's random id exists."""
        return f"{self.name_prefix}-tfstate"

    @property
    def state_key_alias_arn(self) -> str | None:
        if not self.account_id:
            return None
        return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:alias/{self.state_key_alias}"

    @property
    def backend_bucket(self) -> str:
        """The bucket of the s3 backend: the configured one (which must be the state bucket) or the state bucket."""
        configured = self.backend.bucket if isinstance(self.backend, S3BackendConfig) else None
        return configured or self.state_bucket_name

    @property
    def backend_kms_key_id(self) -> str | None:
        """The key the s3 backend names on every state write: configured, else the state key's alias ARN.

        Why an alias ARN: the key's own ARN holds a random id only known after the state stack is applied, and a
        backend block cannot read it. Terraform's S3 backend accepts an alias ARN since 1.6.1 (hashicorp/terraform
        #33993), and S3 accepts one in the SSE-KMS header.
        """
        configured = self.backend.kms_key_id if isinstance(self.backend, S3BackendConfig) else None
        return configured or self.state_key_alias_arn
