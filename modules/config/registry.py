"""ECR: one repository per folder in containers/."""

from __future__ import annotations

from pydantic import Field

from modules.config.base import StrictModel


class RegistryConfig(StrictModel):
    """Image retention of every repository; tags are always immutable and scanned on push."""

    images_to_keep: int = Field(default=30, ge=1, le=1000, description="tagged images kept per repository")
    untagged_expiry_days: int = Field(default=7, ge=1, le=365, description="days before untagged images expire")
    force_delete: bool = Field(default=False, description="let `destroy` delete repositories that hold images")
