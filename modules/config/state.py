"""The bootstrap stack that creates the bucket holding dev/prod Terraform state."""

from __future__ import annotations

from pydantic import Field

from modules.config.base import StrictModel


class StateConfig(StrictModel):
    """The state bucket; the state stack itself always keeps local state."""

    bucket_name: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                                    description="defaults to <project>-<environment>-tfstate")
    noncurrent_version_days: int = Field(default=90, ge=1, le=3650,
                                         description="days old state versions are kept")
