"""Small cdktf-shaped deployments on a private emulator, for the tests that run Terraform after planning
(applying saved plans, drift checks): a `manifest.json` and `stacks/<name>/cdk.tf.json` laid out as `cdktf synth`
writes them, each stack keeping local state in its folder, all stacks sharing one provider process."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.tools.real_plans import REGION, _settings
from tools.emulator import start_emulator
from tools.plan_review.saved import Terraform
from tools.terraform_cli import TerraformToolchain, shared_provider

StackConfig = Callable[[str], dict[str, Any]]  # emulator URL -> Terraform JSON


@dataclass
class Live:
    """A deployment: its synth-like folder, the emulator URL and the Terraform every command uses."""

    outdir: Path
    url: str
    terraform: Terraform

    def stack_dir(self, stack: str) -> Path:
        return self.outdir / "stacks" / stack

    def write(self, stack: str, config: dict[str, Any]) -> None:
        (self.stack_dir(stack) / "cdk.tf.json").write_text(json.dumps(config, indent=2))

    def apply(self, stack: str) -> None:
        self.terraform.run(["apply", "-auto-approve", "-input=false", "-no-color"], self.stack_dir(stack))


def resources(
    url: str, resources_: dict[str, Any], outputs: dict[str, Any] | None = None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        **_settings(url),
        **({"resource": resources_} if resources_ else {}),
        **({"output": outputs} if outputs else {}),
        **({"data": data} if data else {}),
    }


def remote_state(stack: str) -> dict[str, Any]:
    """The data source cdktf uses for a cross-stack reference, reading STACK's local state."""
    return {
        "terraform_remote_state": {stack: {"backend": "local", "config": {"path": f"../{stack}/terraform.tfstate"}}}
    }


@contextmanager
def live_deployment(
    terraform: TerraformToolchain,
    root: Path,
    stacks: dict[str, tuple[StackConfig, list[str]]],
) -> Iterator[Live]:
    """STACKS (name -> (config, dependencies)) written as a synth folder under ROOT and initialised on a private
    emulator; nothing is applied yet."""
    outdir = root / "cdktf.out"
    with ExitStack() as stack:
        emulator = stack.enter_context(start_emulator(reuse=False))
        manifest = {
            "stacks": {
                name: {"name": name, "workingDirectory": f"stacks/{name}", "dependencies": deps}
                for name, (_, deps) in stacks.items()
            }
        }
        outdir.mkdir(parents=True)
        (outdir / "manifest.json").write_text(json.dumps(manifest))
        env = terraform.env(dict(os.environ))
        plain = Terraform(str(terraform.binary), env)
        for name, (config, _) in stacks.items():
            folder = outdir / "stacks" / name
            folder.mkdir(parents=True)
            (folder / "cdk.tf.json").write_text(json.dumps(config(emulator.url), indent=2))
            plain.run(["init", "-input=false", "-no-color"], folder)
        first = outdir / "stacks" / next(iter(stacks))
        reattach = stack.enter_context(shared_provider(first, env))
        yield Live(outdir=outdir, url=emulator.url, terraform=Terraform(str(terraform.binary), {**env, **reattach}))


__all__ = ["REGION", "Live", "live_deployment", "remote_state", "resources"]
