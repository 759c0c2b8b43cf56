"""Shared building blocks of the configuration schema.

Why a strict base: a typo in a TOML key must stop synth (`extra="forbid"`), not silently fall back to a default.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# CloudWatch Logs accepts only these retention values (PutRetentionPolicy); anything else fails at apply time.
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                             2557, 2922, 3288, 3653)

# Commercial regions the project knows; an unknown name fails here instead of at `terraform plan`.
AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "sa-east-1", "mx-central-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
    "eu-south-2", "il-central-1", "me-south-1", "me-central-1", "af-south-1", "ap-east-1", "ap-east-2",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-7", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
)


class StrictModel(BaseModel):
    """Every config section: unknown keys refused, values frozen after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _check_retention(days: int) -> int:
    if days not in CLOUDWATCH_RETENTION_DAYS:
        raise ValueError(f"must be one of the CloudWatch retention values {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}")
    return days


def _check_region(region: str) -> str:
    if region not in AWS_REGIONS:
        raise ValueError(f"unknown region {region!r}; allowed: {', '.join(AWS_REGIONS)}")
    return region


RetentionDays = Annotated[int, AfterValidator(_check_retention)]
Region = Annotated[str, AfterValidator(_check_region)]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
ResourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")]  # 2-32 chars, e.g. "qa"
