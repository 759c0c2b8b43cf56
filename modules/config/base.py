"""Shared building blocks of the configuration schema.

Why a strict base: a typo in a TOML key must stop synth (`extra="forbid"`), not silently fall back to a default,
and a value of the wrong type must stop it too (`strict=True`): TOML has real booleans, integers and floats, so
`production = "yes"`, `production = 1` or `log_retention_days = "365"` are mistakes, not spellings to convert.
Strict mode refuses every conversion, including the one TOML needs: it has no tuples, only arrays, so the base
turns arrays into tuples where a field expects a tuple (`_tuples_from_arrays`), and nothing else.
"""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

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


def _tuples_from_arrays(annotation: Any, value: Any) -> Any:
    """VALUE with every list turned into a tuple where ANNOTATION expects one (inside dicts, unions and tuples
    too); everything else unchanged, so strict validation still refuses any other conversion."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _tuples_from_arrays(args[0], value)
    if origin in (Union, types.UnionType):
        for arm in args:
            converted = _tuples_from_arrays(arm, value)
            if converted is not value:
                return converted
        return value
    if origin is tuple and isinstance(value, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_tuples_from_arrays(args[0], item) for item in value)
        return tuple(_tuples_from_arrays(arg, item) for arg, item in zip(args, value, strict=False)) \
            + tuple(value[len(args):])
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return {key: _tuples_from_arrays(args[1], item) for key, item in value.items()}
    return value


class StrictModel(BaseModel):
    """Every config section: unknown keys refused, no type conversions (TOML arrays excepted), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _tuples_from_toml_arrays(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {name: _tuples_from_arrays(cls.model_fields[name].annotation, value) if name in cls.model_fields
                else value for name, value in data.items()}


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
# project and environment: the <project>-<environment> prefix of every physical name, so only characters every
# AWS name accepts (S3 buckets are the narrowest), 2-32 of them, e.g. "qa".
RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
RESOURCE_NAME_RULE = "2-32 characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit"


def _check_resource_name(name: str) -> str:
    if not RESOURCE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid name: {RESOURCE_NAME_RULE}")
    return name


ResourceName = Annotated[str, AfterValidator(_check_resource_name)]
