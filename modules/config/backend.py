"""Where each stack keeps its Terraform state."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modules.config.base import Region, StrictModel


class LocalBackendConfig(StrictModel):
    """State in local files; `directory` is relative to the project root so the JSON holds no machine path."""

    type: Literal["local"] = "local"
    directory: str = Field(
        default="state",
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description="folder under the project root for <stack>.tfstate files",
    )


class S3BackendConfig(StrictModel):
    """One S3 object per stack (`<key_prefix>/<stack>.tfstate`), encrypted with the state stack's key, with
    S3-native locking. The bucket and key default to the ones the state stack creates, so nothing here has to
    repeat a name the state stack derives."""

    type: Literal["s3"] = "s3"
    bucket: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="state bucket; defaults to the state stack's bucket and must equal it",
    )
    key_prefix: str = Field(
        default="inference-pipeline",
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description="prefix of every stack's state key",
    )
    region: Region | None = Field(default=None, description="bucket region; the state stack's region, the default")
    use_lockfile: bool = Field(default=True, description="S3-native locking (Terraform >= 1.10)")
    dynamodb_table: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{3,255}$",
        description="legacy DynamoDB lock table, only for Terraform < 1.10",
    )
    kms_key_id: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$",
        description="the state stack's key (key or alias ARN); defaults to the ARN of its alias, "
        "arn:<partition>:kms:<region>:<account id>:alias/<project>-<environment>-tfstate",
    )


BackendConfig = Annotated[LocalBackendConfig | S3BackendConfig, Field(discriminator="type")]
