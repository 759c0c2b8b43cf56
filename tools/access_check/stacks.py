"""Read a synthesized cdktf output folder: every stack's `cdk.tf.json`, its blocks, and the account it targets.

Nothing here resolves `${...}` references (expressions.py does); this module only finds things by address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Used when the config pins no account (the `local` environment): any 12 digits would do.
FAKE_ACCOUNT_ID = "123456789012"


class InputError(Exception):
    """The synthesized output cannot be read or resolved; the message is one line naming what and where."""


@dataclass(frozen=True)
class Block:
    """One resource or data source of one stack, with its arguments as synthesized (unresolved)."""

    stack: str
    mode: str  # "resource" or "data"
    type: str
    name: str
    body: dict[str, Any]

    @property
    def address(self) -> str:
        prefix = "data." if self.mode == "data" else ""
        return f"{prefix}{self.type}.{self.name}"

    @property
    def path(self) -> str:
        """The construct path (`compute/function-worker/role`): stable across environments, used as a label."""
        return self.body.get("//", {}).get("metadata", {}).get("path", f"{self.stack}/{self.address}")

    def __str__(self) -> str:
        return f"{self.stack}:{self.address}"


class Synthesized:
    """The stacks of one environment, as `cdktf synth` (or `python main.py`) wrote them."""

    def __init__(self, stacks_dir: Path) -> None:
        self.folder = stacks_dir
        self.stacks: dict[str, dict[str, Any]] = {}
        if not stacks_dir.is_dir():
            raise InputError(f"{stacks_dir}: no such folder (synthesize first: `make synth`)")
        for stack_file in sorted(stacks_dir.glob("*/cdk.tf.json")):
            try:
                self.stacks[stack_file.parent.name] = json.loads(stack_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise InputError(f"{stack_file}: not readable JSON ({error})") from error
        if not self.stacks:
            raise InputError(f"{stacks_dir}: holds no */cdk.tf.json (synthesize first: `make synth`)")
        self._blocks = [
            Block(stack, mode, type_, name, body)
            for stack, document in self.stacks.items()
            for mode in ("resource", "data")
            for type_, items in document.get(mode, {}).items()
            for name, body in items.items()
        ]
        self.region, self.account = self._provider_settings()

    @property
    def kubernetes_objects(self) -> list[dict[str, Any]]:
        """The Kubernetes manifests synthesized next to the stacks (`<outdir>/k8s/<env>/*.yaml`; EKS only)."""
        import yaml

        objects = []
        for path in sorted((self.folder.parent / "k8s").glob("*/*.yaml")):
            try:
                objects += [item for item in yaml.safe_load_all(path.read_text(encoding="utf-8")) if item]
            except (OSError, yaml.YAMLError) as error:
                raise InputError(f"{path}: not readable YAML ({error})") from error
        return objects

    def blocks(self, type_: str, mode: str = "resource") -> list[Block]:
        return [block for block in self._blocks if block.type == type_ and block.mode == mode]

    def block(self, stack: str, mode: str, type_: str, name: str) -> Block:
        try:
            return Block(stack, mode, type_, name, self.stacks[stack][mode][type_][name])
        except KeyError:
            prefix = "data." if mode == "data" else ""
            raise InputError(f"stack {stack}: no {prefix}{type_}.{name}") from None

    def output(self, stack: str, name: str) -> Any:
        try:
            return self.stacks[stack]["output"][name]["value"]
        except KeyError:
            raise InputError(f"stack {stack}: no output {name}") from None

    def producer_of(self, consumer: str, remote_state: str) -> str:
        """The stack whose state a `terraform_remote_state` data source reads: same backend path or key."""
        body = self.block(consumer, "data", "terraform_remote_state", remote_state).body
        wanted = {key: body.get("config", {}).get(key) for key in ("path", "key", "bucket")}
        for name, document in self.stacks.items():
            for backend in document.get("terraform", {}).get("backend", {}).values():
                if all(backend.get(key) == value for key, value in wanted.items() if value is not None):
                    return name
        # cdktf names these `cross-stack-reference-input-<producer stack>`
        suffix = remote_state.removeprefix("cross-stack-reference-input-")
        if suffix in self.stacks:
            return suffix
        raise InputError(
            f"stack {consumer}: data.terraform_remote_state.{remote_state} reads no stack of {self.folder}"
        )

    def _provider_settings(self) -> tuple[str, str]:
        regions, accounts = set(), set()
        for document in self.stacks.values():
            for provider in document.get("provider", {}).get("aws", []):
                if provider.get("alias"):
                    continue
                regions.add(provider.get("region"))
                accounts.update(provider.get("allowed_account_ids", [])[:1])
        regions.discard(None)
        if len(regions) != 1:
            raise InputError(
                f"{self.folder}: expected one AWS region across the stacks, found {sorted(regions) or 'none'}"
            )
        if len(accounts) > 1:
            raise InputError(f"{self.folder}: stacks pin different accounts {sorted(accounts)}")
        return regions.pop(), (accounts.pop() if accounts else FAKE_ACCOUNT_ID)

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"
