"""Read `terraform show -json` output into small typed records; reject anything that is not a plan.

Why a model of our own: the review needs a handful of fields out of a large document, and it must fail with a
one-line message (not a KeyError deep in rendering) when handed a state file, a truncated upload or a plan from
a future, incompatible Terraform. Field names follow Terraform's JSON output format
(https://developer.hashicorp.com/terraform/internals/json-format); unknown fields are ignored, as the format's
compatibility promise asks of consumers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED_MAJOR_FORMAT = 1


class PlanError(ValueError):
    """The file is not a plan this tool can read; the message names the file and the reason."""


@dataclass(frozen=True)
class Change:
    """Terraform's change representation: actions plus before/after values and their sensitivity masks."""

    actions: tuple[str, ...]
    before: Any = None
    after: Any = None
    after_unknown: Any = None
    before_sensitive: Any = None
    after_sensitive: Any = None
    replace_paths: tuple[tuple[str | int, ...], ...] = ()
    importing_id: str | None = None
    importing: bool = False


@dataclass(frozen=True)
class ResourceChange:
    """One entry of `resource_changes` (or `resource_drift`)."""

    address: str
    type: str
    mode: str
    change: Change
    action_reason: str | None = None
    previous_address: str | None = None
    deposed: str | None = None


@dataclass(frozen=True)
class OutputChange:
    """One entry of `output_changes`."""

    name: str
    change: Change


@dataclass(frozen=True)
class StackPlan:
    """The plan of one stack, as much of it as the review uses."""

    stack: str
    source: Path
    format_version: str
    terraform_version: str | None
    resource_changes: tuple[ResourceChange, ...] = ()
    resource_drift: tuple[ResourceChange, ...] = ()
    output_changes: tuple[OutputChange, ...] = ()
    errored: bool = False


def _change(data: Any, where: str) -> Change:
    if not isinstance(data, dict) or not isinstance(data.get("actions"), list):
        raise PlanError(f"{where}: 'change.actions' is missing or not a list")
    importing = data.get("importing")
    return Change(
        actions=tuple(str(action) for action in data["actions"]),
        before=data.get("before"),
        after=data.get("after"),
        after_unknown=data.get("after_unknown"),
        before_sensitive=data.get("before_sensitive"),
        after_sensitive=data.get("after_sensitive"),
        replace_paths=tuple(tuple(path) for path in data.get("replace_paths") or () if isinstance(path, list)),
        importing=isinstance(importing, dict),
        importing_id=importing.get("id") if isinstance(importing, dict) else None,
    )


def _resource_changes(entries: Any, key: str) -> tuple[ResourceChange, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise PlanError(f"'{key}' is not a list")
    changes = []
    for index, entry in enumerate(entries):
        where = f"{key}[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("address"), str):
            raise PlanError(f"{where}: not a resource change (no 'address')")
        changes.append(ResourceChange(
            address=entry["address"],
            type=str(entry.get("type", "")),
            mode=str(entry.get("mode", "managed")),
            change=_change(entry.get("change"), where),
            action_reason=entry.get("action_reason"),
            previous_address=entry.get("previous_address"),
            deposed=entry.get("deposed"),
        ))
    return tuple(changes)


def _output_changes(entries: Any) -> tuple[OutputChange, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, dict):
        raise PlanError("'output_changes' is not an object")
    return tuple(OutputChange(name=name, change=_change(change, f"output_changes.{name}"))
                 for name, change in sorted(entries.items()))


def check_format_version(document: dict[str, Any]) -> str:
    """The document's `format_version`, when its major version is one this tool understands."""
    version = document.get("format_version")
    if not isinstance(version, str) or not version:
        raise PlanError("no 'format_version': not the output of `terraform show -json`")
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR_FORMAT:
        raise PlanError(f"unsupported plan format_version {version!r} (this tool reads "
                        f"{SUPPORTED_MAJOR_FORMAT}.x)")
    return version


def parse_plan(document: Any, *, stack: str, source: Path) -> StackPlan:
    """A StackPlan from a decoded `terraform show -json PLANFILE` document."""
    if not isinstance(document, dict):
        raise PlanError("not a JSON object: not the output of `terraform show -json`")
    version = check_format_version(document)
    if "resource_changes" not in document and "planned_values" not in document:
        hint = " (it looks like a state file: run `terraform show -json` on a plan file)" if "values" in document \
            else ""
        raise PlanError(f"no 'resource_changes' or 'planned_values': not a plan{hint}")
    return StackPlan(
        stack=stack,
        source=source,
        format_version=version,
        terraform_version=document.get("terraform_version"),
        resource_changes=_resource_changes(document.get("resource_changes"), "resource_changes"),
        resource_drift=_resource_changes(document.get("resource_drift"), "resource_drift"),
        output_changes=_output_changes(document.get("output_changes")),
        errored=bool(document.get("errored", False)),
    )


def load_plan(path: Path, *, stack: str | None = None) -> StackPlan:
    """Read PATH; the stack is named by STACK or else by the folder holding the file."""
    name = stack or path.resolve().parent.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    try:
        return parse_plan(document, stack=name, source=path)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}") from None
