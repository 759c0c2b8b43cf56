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
ZIP_MAGIC = b"PK\x03\x04"  # a saved plan file (`terraform plan -out`) is a zip archive

AttributePath = tuple[str | int, ...]


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
    name: str = ""
    module_address: str | None = None

    @property
    def config_address(self) -> str:
        """The address of the block in the configuration that made this instance: module instance keys and the
        resource's own index dropped (`module.a["x"].aws_s3_bucket.b[0]` -> `module.a.aws_s3_bucket.b`)."""
        block = f"{'data.' if self.mode == 'data' else ''}{self.type}.{self.name}"
        return f"{strip_instance_keys(self.module_address)}.{block}" if self.module_address else block


def strip_instance_keys(address: str) -> str:
    """ADDRESS without its `[...]` instance keys, honouring quoted keys that contain brackets or dots."""
    out, depth, quoted, escaped = [], 0, False, False
    for char in address:
        if depth:
            if quoted:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    quoted = False
            elif char == '"':
                quoted = True
            elif char == "]":
                depth -= 1
            continue
        if char == "[":
            depth += 1
            continue
        out.append(char)
    return "".join(out)


@dataclass(frozen=True)
class ConfigResource:
    """A resource block of the plan's `configuration`: which provider configuration it uses, and what each of
    its arguments refers to (`references`), which links resources whose values are unknown until apply."""

    address: str
    provider_config_key: str
    expressions: dict[str, Any]

    def sets(self, argument: str) -> bool:
        return argument in self.expressions

    def references(self, argument: str) -> tuple[str, ...]:
        """Every reference in ARGUMENT's expression, nested blocks included (as Terraform lists them)."""
        found: list[str] = []
        _collect_references(self.expressions.get(argument), found)
        return tuple(found)


def _collect_references(expression: Any, found: list[str]) -> None:
    if isinstance(expression, dict):
        references = expression.get("references")
        if isinstance(references, list):
            found.extend(str(reference) for reference in references)
        for key, value in expression.items():
            if key != "references":
                _collect_references(value, found)
    elif isinstance(expression, list):
        for item in expression:
            _collect_references(item, found)


@dataclass(frozen=True)
class Configuration:
    """What the review needs from the plan's `configuration` block: resource blocks and provider regions."""

    resources: dict[str, ConfigResource]
    provider_regions: dict[str, str | None]

    def region_of(self, change: ResourceChange) -> str | None:
        """The region of CHANGE's provider configuration, when the configuration states it as a constant or a
        root variable; the default `aws` provider's otherwise."""
        resource = self.resources.get(change.config_address)
        key = resource.provider_config_key if resource else "aws"
        if key in self.provider_regions:
            return self.provider_regions[key]
        return self.provider_regions.get(key.rsplit(":", 1)[-1], self.provider_regions.get("aws"))


EMPTY_CONFIGURATION = Configuration(resources={}, provider_regions={})


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
    relevant_attributes: tuple[tuple[str, AttributePath], ...] = ()
    refresh_only: bool = False
    configuration: Configuration = EMPTY_CONFIGURATION


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
        changes.append(
            ResourceChange(
                address=entry["address"],
                type=str(entry.get("type", "")),
                mode=str(entry.get("mode", "managed")),
                change=_change(entry.get("change"), where),
                action_reason=entry.get("action_reason"),
                previous_address=entry.get("previous_address"),
                deposed=entry.get("deposed"),
                name=str(entry.get("name", "")),
                module_address=entry.get("module_address"),
            )
        )
    return tuple(changes)


def _relevant_attributes(entries: Any) -> tuple[tuple[str, AttributePath], ...]:
    """`relevant_attributes`: the resource attributes that contributed to the planned changes (Terraform shows
    drift only for these in a normal plan)."""
    if not isinstance(entries, list):
        return ()
    return tuple(
        (str(entry.get("resource", "")), tuple(entry.get("attribute") or ()))
        for entry in entries
        if isinstance(entry, dict)
    )


def _module_resources(module: Any, prefix: str, into: dict[str, ConfigResource]) -> None:
    if not isinstance(module, dict):
        return
    for resource in module.get("resources") or ():
        if isinstance(resource, dict) and isinstance(resource.get("address"), str):
            address = prefix + resource["address"]
            into[address] = ConfigResource(
                address=address,
                provider_config_key=str(resource.get("provider_config_key", "aws")),
                expressions=resource.get("expressions") or {},
            )
    for name, call in (module.get("module_calls") or {}).items():
        if isinstance(call, dict):
            _module_resources(call.get("module"), f"{prefix}module.{name}.", into)


def _region(provider: dict[str, Any], variables: dict[str, Any]) -> str | None:
    expression = (provider.get("expressions") or {}).get("region") or {}
    if isinstance(expression.get("constant_value"), str):
        return expression["constant_value"]
    references = expression.get("references") or []
    if len(references) == 1 and str(references[0]).startswith("var."):
        value = (variables.get(str(references[0])[4:]) or {}).get("value")
        return value if isinstance(value, str) else None
    return None


def _configuration(document: dict[str, Any]) -> Configuration:
    config = document.get("configuration")
    if not isinstance(config, dict):
        return EMPTY_CONFIGURATION
    resources: dict[str, ConfigResource] = {}
    _module_resources(config.get("root_module"), "", resources)
    variables = document.get("variables") if isinstance(document.get("variables"), dict) else {}
    regions = {
        key: _region(provider, variables)
        for key, provider in (config.get("provider_config") or {}).items()
        if isinstance(provider, dict) and provider.get("name", "aws") == "aws"
    }
    return Configuration(resources=resources, provider_regions=regions)


def _holds_managed_resources(module: Any) -> bool:
    if not isinstance(module, dict):
        return False
    if any(isinstance(r, dict) and r.get("mode") == "managed" for r in module.get("resources") or ()):
        return True
    return any(_holds_managed_resources(child) for child in module.get("child_modules") or ())


def is_refresh_only(document: dict[str, Any]) -> bool:
    """A refresh-only plan (`terraform plan -refresh-only`): the JSON format has no mode field, but a normal plan
    lists every managed resource of state and configuration in `resource_changes` (as no-op when unchanged),
    while a refresh-only plan lists none, only `resource_drift`."""
    managed_changes = any(
        isinstance(entry, dict) and entry.get("mode", "managed") == "managed"
        for entry in document.get("resource_changes") or ()
    )
    prior = (document.get("prior_state") or {}).get("values") or {}
    return not managed_changes and _holds_managed_resources(prior.get("root_module"))


def _output_changes(entries: Any) -> tuple[OutputChange, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, dict):
        raise PlanError("'output_changes' is not an object")
    return tuple(
        OutputChange(name=name, change=_change(change, f"output_changes.{name}"))
        for name, change in sorted(entries.items())
    )


def check_format_version(document: dict[str, Any]) -> str:
    """The document's `format_version`, when its major version is one this tool understands."""
    version = document.get("format_version")
    if not isinstance(version, str) or not version:
        raise PlanError("no 'format_version': not the output of `terraform show -json`")
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR_FORMAT:
        raise PlanError(f"unsupported plan format_version {version!r} (this tool reads {SUPPORTED_MAJOR_FORMAT}.x)")
    return version


def parse_plan(document: Any, *, stack: str, source: Path) -> StackPlan:
    """A StackPlan from a decoded `terraform show -json PLANFILE` document."""
    if not isinstance(document, dict):
        raise PlanError("not a JSON object: not the output of `terraform show -json`")
    version = check_format_version(document)
    if "resource_changes" not in document and "planned_values" not in document:
        hint = (
            " (it looks like a state file: run `terraform show -json` on a plan file)" if "values" in document else ""
        )
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
        relevant_attributes=_relevant_attributes(document.get("relevant_attributes")),
        refresh_only=is_refresh_only(document),
        configuration=_configuration(document),
    )


def load_plan(path: Path, *, stack: str | None = None) -> StackPlan:
    """Read PATH; the stack is named by STACK or else by the folder holding the file."""
    name = stack or path.resolve().parent.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data.startswith(ZIP_MAGIC):
        raise PlanError(
            f"{path}: a binary plan file, not JSON: review `terraform show -json {path.name} > plan.json` instead"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not UTF-8 text: not the output of `terraform show -json`") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    try:
        return parse_plan(document, stack=name, source=path)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}") from None
