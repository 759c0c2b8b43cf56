"""Where each stack keeps its Terraform state."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modules.config.base import Region, StrictModel


class LocalBackendConfig(StrictModel):
    """State in local files; `directory` is relative to the project root so the JSON holds no machine path."""

    type: Literal["local"] = "local"
    directory: str = Field(default="state", pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
                           description="folder under the project root for <stack>.tfstate files")


class S3BackendConfig(StrictModel):
    """One S3 object per stack (`<key_prefix>/<stack>.tfstate`), encrypted, with S3-native locking."""

    type: Literal["s3"] = "s3"
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="state bucket (see the state stack)")
    key_prefix: str = Field(default="inference-pipeline", pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
                            description="prefix of every stack's state key")
    region: Region | None = Field(default=None, description="bucket region; defaults to the environment's region")
    use_lockfile: bool = Field(default=True, description="S3-native locking (Terraform >= 1.10)")
    dynamodb_table: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{3,255}$",
                                       description="legacy DynamoDB lock table, only for Terraform < 1.10")
    kms_key_id: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:kms:", description="CMK for the state objects")


BackendConfig = Annotated[LocalBackendConfig | S3BackendConfig, Field(discriminator="type")]
