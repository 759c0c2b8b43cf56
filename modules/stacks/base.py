"""What every stack shares: the AWS provider with default tags, the state backend, version constraints.

Why here and not in each stack: a stack that forgets `allowed_account_ids` or its own backend key could
overwrite another environment; one base class makes that impossible to forget.
"""

from __future__ import annotations

import inspect
import os
from functools import cached_property
from pathlib import Path

import jsii
from cdktf import Aspects, IAspect, LocalBackend, S3Backend, TerraformOutput, TerraformResource, TerraformStack
from constructs import Construct

from modules import aws, defaults
from modules.config import PipelineConfig
from modules.config.backend import LocalBackendConfig
from modules.constructs.kms_key import KmsKey, KmsKeyProps
from modules.emulator_provider import EMULATOR_ACCOUNT_ID

# An environment without allowed_account_ids (local) gets the emulator's account as its only allowed account:
# Terraform's AWS provider then refuses every real account before it plans anything ("AWS account ID not allowed"),
# so `local` can only ever be deployed onto the emulator.

# cdktf.out/stacks/<stack>/ is where Terraform runs; the project root is three levels up.
PROJECT_ROOT_FROM_STACK_DIR = "../../.."
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


class PipelineStack(TerraformStack):
    """A stack of the pipeline: `self.config`, `self.account_id`, `self.partition` and `output()`."""

    def __init__(
        self, scope: Construct, stack_name: str, *, config: PipelineConfig, force_local_backend: bool = False
    ) -> None:
        super().__init__(scope, stack_name)
        self.config = config
        self.stack_name = stack_name
        self._configure_backend(force_local_backend)
        self.add_override("terraform.required_version", defaults.REQUIRED_TERRAFORM_VERSION)
        self.add_override(
            "terraform.required_providers.aws",
            {"source": defaults.REQUIRED_PROVIDER_SOURCE, "version": defaults.REQUIRED_PROVIDER_VERSION},
        )
        aws.provider.AwsProvider(
            self,
            "aws",
            region=config.region,
            allowed_account_ids=allowed_account_ids(config),
            default_tags=[aws.provider.AwsProviderDefaultTags(tags=self.default_tags)],
            **_emulator_provider_arguments(config),
        )
        if config.emulator.active:
            Aspects.of(self).add(_EmulatorGaps(config))

    @property
    def default_tags(self) -> dict[str, str]:
        return {
            **self.config.tags,
            "project": self.config.project,
            "environment": self.config.environment,
            "stack": self.stack_name,
            "managed-by": "cdktf",
        }

    def _configure_backend(self, force_local: bool) -> None:
        backend = self.config.backend
        if self.config.emulator.active:
            # Emulator deploys never touch real state: a folder per environment and emulator (its port), so a
            # fresh emulator starts from empty state; the path is relative to wherever synth writes.
            directory = f"{self.config.emulator.state_directory}/{self.config.environment}-{self.config.emulator.port}"
            stack_dir = Path(self.node.root.outdir).resolve() / "stacks" / self.stack_name
            relative = os.path.relpath(PROJECT_ROOT / directory / f"{self.stack_name}.tfstate", stack_dir)
            LocalBackend(self, path=relative)
            return
        if force_local or isinstance(backend, LocalBackendConfig):
            directory = local_state_directory(self.config)
            # A relative path: cdktf's default is an absolute path of the machine that ran synth.
            LocalBackend(self, path=f"{PROJECT_ROOT_FROM_STACK_DIR}/{directory}/{self.stack_name}.tfstate")
            return
        bucket, key = self.config.backend_bucket, f"{backend.key_prefix}/{self.stack_name}.tfstate"
        # kms_key_id is what makes `encrypt = true` mean the state key: without it Terraform asks S3 for SSE-S3
        # (AES256) on every write, which overrides the bucket's default SSE-KMS.
        S3Backend(
            self,
            bucket=bucket,
            key=key,
            region=backend.region or self.config.region,
            encrypt=True,
            kms_key_id=self.config.backend_kms_key_id,
            dynamodb_table=backend.dynamodb_table,
        )
        # cdktf 0.21's S3Backend has no use_lockfile: S3-native locking (Terraform >= 1.10) set by override.
        if backend.use_lockfile:
            self.add_override("terraform.backend.s3.use_lockfile", True)

    @cached_property
    def account_id(self) -> str:
        return aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "caller").account_id

    @cached_property
    def partition(self) -> str:
        return aws.data_aws_partition.DataAwsPartition(self, "partition").partition

    def customer_key(
        self,
        id_: str,
        *,
        alias: str,
        description: str,
        for_logs: bool = True,
        service_principals: tuple[str, ...] = (),
    ) -> KmsKey:
        """The stack's customer-managed key, in this stack's account and partition. FOR_LOGS: CloudWatch Logs of
        the stack's region may use it for the log groups registered with `allow_log_group`; SERVICE_PRINCIPALS
        (SNS, EventBridge...) may generate data keys and decrypt."""
        return KmsKey(
            self,
            id_,
            props=KmsKeyProps(
                alias=alias,
                description=description,
                account_id=self.account_id,
                partition=self.partition,
                region=self.config.region if for_logs else "",
                service_principals=service_principals,
            ),
        )

    def output(self, name: str, value: object, description: str, *, sensitive: bool = False) -> TerraformOutput:
        """Only stacks emit outputs, and each says what it is for."""
        return TerraformOutput(self, name, value=value, description=description, sensitive=sensitive)


def allowed_account_ids(config: PipelineConfig) -> list[str] | None:
    """The accounts the provider may touch: the configured ones; the emulator's alone for an environment with none
    (the local guard); none to check on an emulator synth, whose provider skips the account lookup."""
    if config.emulator.active:
        return None
    return list(config.allowed_account_ids) or [EMULATOR_ACCOUNT_ID]


def local_state_directory(config: PipelineConfig) -> str:
    """Folder (relative to the project root) of the local state files: the local backend's directory, or, for
    the state stack of an s3 environment before `make state-migrate`, `state/<environment>`."""
    backend = config.backend
    return backend.directory if isinstance(backend, LocalBackendConfig) else f"state/{config.environment}"


def _emulator_provider_arguments(config: PipelineConfig) -> dict[str, object]:
    """AwsProvider arguments that send every call to the emulator (`make deploy-local`); none otherwise.

    Endpoints go in as the provider's struct class: jsii silently drops snake_case dict keys of nested blocks.
    """
    if not config.emulator.active:
        return {}
    from modules.emulator_provider import provider_settings

    settings = provider_settings(config.emulator.url.rstrip("/"))
    endpoint_fields = inspect.signature(aws.provider.AwsProviderEndpoints.__init__).parameters
    endpoints = {}
    for service, url in settings.pop("endpoints")[0].items():
        # Python names of the struct differ where the Terraform key is a keyword or joined (lambda, s3control).
        name = next(n for n in (service, f"{service}_", service.replace("s3", "s3_", 1)) if n in endpoint_fields)
        endpoints[name] = url
    return {**settings, "endpoints": [aws.provider.AwsProviderEndpoints(**endpoints)]}


@jsii.implements(IAspect)
class _EmulatorGaps:
    """Applies the emulator gap flags that need no stack code (modules/config/emulator.py): drops the
    resource types a flag excludes (`count = 0`) and, with skip_prevent_destroy, lifts prevent_destroy."""

    def __init__(self, config: PipelineConfig) -> None:
        self.excluded = config.emulator.excluded_resource_types()
        self.release_prevent_destroy = config.emulator.skips("prevent_destroy")

    def visit(self, node) -> None:  # noqa: ANN001 - any construct of the tree
        if not isinstance(node, TerraformResource):
            return
        if node.terraform_resource_type in self.excluded:
            node.add_override("count", 0)
        lifecycle = node.lifecycle
        if self.release_prevent_destroy and lifecycle is not None and lifecycle.prevent_destroy:
            node.add_override("lifecycle.prevent_destroy", False)
