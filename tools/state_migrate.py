"""`make state-migrate PIPELINE_ENV=prod`: move the state stack's own state from the bootstrap file on one laptop
into the bucket that stack created.

Why a tool: the state stack must exist before any S3 backend can, so it is first applied with local state
(`state/<env>/state.tfstate`). Once its bucket exists, its state belongs there like every other stack's. The config
says where the state stack keeps its state (`[state] self_managed = true`); this tool only moves the bytes, so the
synthesized JSON depends on the config alone, never on whether the move has happened yet:

1. synthesize the state stack (the same JSON `make synth` writes for it) into `.build/state-migrate/<env>/`;
2. probe the target key (`init`, `state pull` in a scratch copy): refuse to overwrite a state that is not this one;
3. copy the bootstrap file in as `terraform.tfstate` and run `terraform init -migrate-state -force-copy`:
   Terraform's own way to move the state of a working directory into a newly configured backend;
4. `terraform state pull` and compare resources and outputs with the bootstrap file;
5. rename the bootstrap file to `state.tfstate.migrated`: a backup no backend reads, so nobody applies the state
   stack from a stale local copy.

Exit 0 when the state is in the bucket (now or already), 1 when Terraform fails or the check does not match,
2 on bad input (config, environment, missing bootstrap file), each with one line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modules.config import ConfigError, PipelineConfig, config_path_from_env, load_config
from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT, TerraformNotFound

STACK = "state"
OUTDIR = BUILD_DIR / "state-migrate"
MIGRATED_SUFFIX = ".migrated"

Runner = Callable[[list[str], Path], subprocess.CompletedProcess]
Say = Callable[[str], None]


class MigrationError(RuntimeError):
    """Terraform failed or the state in the bucket is not the one moved; the message says which."""


class BadInput(ValueError):
    """Nothing can be moved as configured; the message says what to change."""


@dataclass(frozen=True)
class Migration:
    """Where the state comes from and where it goes."""

    local_state: Path  # the bootstrap file, state/<env>/state.tfstate
    backup: Path  # where the bootstrap file goes once the bucket holds it
    target: str  # s3://bucket/key, for messages


def plan(config: PipelineConfig, project_root: Path = PROJECT_ROOT) -> Migration:
    """Check that the config asks for the move and that there is something to move."""
    from modules.stacks.base import local_state_directory

    if config.emulator.active:
        raise BadInput(
            "state-migrate: the emulator keeps every stack's state in local files; unset PIPELINE_EMULATOR_URL"
        )
    if config.backend.type != "s3":
        raise BadInput(
            f"state-migrate: {config.environment} keeps every state in local files (backend.type = "
            f"'{config.backend.type}'); nothing to move"
        )
    if not config.state.self_managed:
        raise BadInput(
            f"state-migrate: set `self_managed = true` under [state] in config/{config.environment}.toml "
            "first: the state stack's synthesized backend must name the bucket its state moves to, and "
            "keep naming it afterwards"
        )
    local_state = project_root / local_state_directory(config) / f"{STACK}.tfstate"
    return Migration(
        local_state=local_state,
        backup=local_state.with_name(local_state.name + MIGRATED_SUFFIX),
        target=f"s3://{config.backend_bucket}/{config.backend.key_prefix}/{STACK}.tfstate",
    )


def synthesize_state_stack(config: PipelineConfig, outdir: Path) -> Path:
    """The state stack alone (it reads nothing from other stacks, so its JSON is the one `make synth` writes)."""
    from modules.stacks.state import StateStack
    from modules.synth_run import synthesize

    synthesize(lambda app, cfg: StateStack(app, config=cfg), config, outdir)
    return outdir / "stacks" / STACK


def _content(text: str, source: str) -> dict:
    """What a state holds (resources and outputs). Not lineage and serial: Terraform writes the migrated state as
    a new snapshot of the new backend, with a lineage of its own (seen with Terraform 1.11)."""
    if not text.strip():
        return {"resources": [], "outputs": {}}
    try:
        state = json.loads(text)
        return {"resources": state.get("resources") or [], "outputs": state.get("outputs") or {}}
    except (ValueError, AttributeError):
        raise MigrationError(f"{source} is not a Terraform state file") from None


def _summary(content: dict) -> str:
    return f"{len(content['resources'])} resource(s), {len(content['outputs'])} output(s)"


def _terraform(run: Runner, args: list[str], cwd: Path) -> str:
    proc = run(args, cwd)
    if proc.returncode != 0:
        # Terraform frames its diagnostics in box-drawing characters; the "Error: ..." line says what went wrong.
        lines = [line.strip(" │╷╵") for line in (proc.stderr or proc.stdout or "").splitlines()]
        lines = [line for line in lines if line]
        detail = next((line for line in lines if line.startswith("Error:")), lines[-1] if lines else "no output")
        raise MigrationError(f"terraform {' '.join(args)} failed in {cwd}: {detail}")
    return proc.stdout or ""


def migrate(
    config: PipelineConfig, run: Runner, *, outdir: Path, project_root: Path = PROJECT_ROOT, say: Say = print
) -> Migration:
    """Move the bootstrap state of CONFIG's state stack into its bucket (the steps in the module docstring)."""
    migration = plan(config, project_root)
    if not migration.local_state.is_file():
        if migration.backup.is_file():
            say(f"already migrated: {migration.target} (bootstrap backup {migration.backup})")
            return migration
        raise BadInput(
            f"state-migrate: no bootstrap state at {migration.local_state}: apply the state stack first "
            "(docs/ci-cd.md: State backends)"
        )
    local = _content(migration.local_state.read_text(), str(migration.local_state))
    if not local["resources"] and not local["outputs"]:
        raise BadInput(f"state-migrate: {migration.local_state} is empty: apply the state stack first")

    stack_dir = synthesize_state_stack(config, outdir)
    say(f"synthesized the state stack into {stack_dir}")
    probe = stack_dir.parent / f"{STACK}-probe"
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir()
    shutil.copy2(stack_dir / "cdk.tf.json", probe / "cdk.tf.json")
    _terraform(run, ["init", "-input=false", "-no-color"], probe)
    remote = _content(_terraform(run, ["state", "pull"], probe), migration.target)
    if remote == local:
        say(f"{migration.target} already holds this state ({_summary(remote)})")
    elif remote["resources"] or remote["outputs"]:
        raise MigrationError(
            f"{migration.target} already holds another state ({_summary(remote)}; the bootstrap "
            f"file has {_summary(local)}); refusing to overwrite it"
        )
    else:
        shutil.copy2(migration.local_state, stack_dir / "terraform.tfstate")
        _terraform(run, ["init", "-input=false", "-no-color", "-migrate-state", "-force-copy"], stack_dir)
        moved = _content(_terraform(run, ["state", "pull"], stack_dir), migration.target)
        if moved != local:
            raise MigrationError(
                f"{migration.target} holds {_summary(moved)} after the move, not the bootstrap "
                f"file's {_summary(local)}; the bootstrap file stays where it is"
            )
        say(f"moved {migration.local_state} to {migration.target} ({_summary(local)})")
    for leftover in ("terraform.tfstate", "terraform.tfstate.backup"):
        (stack_dir / leftover).unlink(missing_ok=True)
    shutil.rmtree(probe, ignore_errors=True)
    migration.local_state.rename(migration.backup)
    say(f"bootstrap file kept as {migration.backup} (no backend reads it; delete it once the bucket is trusted)")
    return migration


def default_runner() -> Runner:
    """The project's offline Terraform toolchain where this machine has one, else `terraform` as installed."""
    from tools.terraform_cli import find_terraform_binary, toolchain

    try:
        chain = toolchain()
        return lambda args, cwd: chain.run(args, cwd, check=False)
    except TerraformNotFound:
        binary = find_terraform_binary()  # no offline mirror: the user's own CLI configuration installs providers
    return lambda args, cwd: subprocess.run([str(binary), *args], cwd=cwd, text=True, capture_output=True, check=False)


def main() -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # as `python main.py` does
    try:
        config = load_config(config_path_from_env())
        plan(config)  # a config that asks for no move says so before Terraform is even looked for
        migration = migrate(config, default_runner(), outdir=OUTDIR / config.environment)
    except (ConfigError, BadInput, TerraformNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"the state stack now keeps its state in {migration.target}; `make synth` keeps it there "
        "(state.self_managed = true)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
