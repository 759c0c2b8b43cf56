"""Plain props shared by the SageMaker construct tests (ARNs as literals: no other stack needed), and a check
that a synthesized resource's name hashes every argument the resource is given."""

from __future__ import annotations

import json
import re

ACCOUNT = "123456789012"
ARTIFACT_PREFIX = "arn:aws:s3:::artifacts/models/inference/*"
REPOSITORY = "arn:aws:ecr:eu-west-1:123456789012:repository/inference-local/inference"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
OTHER_KEY = "arn:aws:kms:eu-west-1:123456789012:key/66666666-7777-8888-9999-000000000000"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:inference-local-results"
OTHER_TOPIC = "arn:aws:sns:eu-west-1:123456789012:inference-local-errors"

NOT_ARGUMENTS = {"name", "lifecycle", "depends_on", "//", "tags", "provider"}


def unhashed_arguments(resource: dict) -> list[str]:
    """Paths of the synthesized RESOURCE's argument values that do not appear in its name's
    jsonencode(...) expression (empty: the name changes whenever any argument does)."""
    name = resource["name"]
    missing = []
    for path, value in _leaves({k: v for k, v in resource.items() if k not in NOT_ARGUMENTS}, ()):
        rendered = _rendered(value)
        key = path[-1]
        if isinstance(key, int):
            found = rendered in name
        else:
            found = any(f'"{spelling}" = {rendered}' in name for spelling in (key, _camel(key)))
        if not found:
            missing.append(".".join(map(str, path)))
    return missing


def _leaves(value, path):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _rendered(value) -> str:
    """How VALUE appears inside the HCL expression: a reference bare, anything else as a literal."""
    if isinstance(value, str):
        reference = re.fullmatch(r"\$\{([^{}]*)\}", value)
        return reference.group(1) if reference else json.dumps(value)
    return json.dumps(value)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest) if rest and key.islower() else key
