"""`python -m tools.local.refactor_plan [--base REV]` (`make refactor-plan`): prove on the emulator that a refactor
changes no infrastructure. Deploys the synth of REV (default main) on a private emulator, then plans the working
tree's synth against that state: every stack must plan no change. Destroys and stops the emulator at the end.

Why a plan and not only the address check (`make refactor-check`): an attribute that moved between files can still
change value, and a Terraform plan against deployed resources is the one judge of "nothing changes". Changes the
emulator shows on every plan whatever the code (moto echoes some arguments back differently; docs/local-loop.md, "Emulator
gaps") are told apart by planning REV's own synth again: identical changes there are standing, not the refactor's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tools.local.deploy import (
    DeployError,
    Synthesized,
    TerraformEngine,
    dependency_levels,
    emulator_environment,
    read_stacks,
    remove_state,
    synthesize,
)
from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT, toolchain

NEW_OUTDIR = BUILD_DIR / "cdktf.out.refactor-new"
BASE_TREE = BUILD_DIR / "refactor-base-tree"  # REV checked out: its synth, state and Terraform folders live there


def synthesize_revision(rev: str, url: str, environment: str) -> Synthesized:
    """REV's own main.py and modules (a detached git worktree, removed by `forget_revision`), run with this
    project's Python environment."""
    forget_revision()
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(BASE_TREE), rev],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    (BASE_TREE / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    outdir = BASE_TREE / ".build" / "cdktf.out.refactor-base"
    outdir.parent.mkdir(parents=True, exist_ok=True)
    env = {**emulator_environment(url, environment), "CDKTF_OUTDIR": str(outdir)}
    proc = subprocess.run(
        [sys.executable, "main.py"], cwd=BASE_TREE, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    if proc.returncode != 0:
        raise DeployError(f"synth of {rev} failed:\n{(proc.stderr or proc.stdout).strip()[-4000:]}")
    stacks = read_stacks(outdir)
    return Synthesized(outdir=outdir, stacks=stacks, levels=dependency_levels(stacks), seconds=0.0)


def forget_revision() -> None:
    subprocess.run(
        ["git", "worktree", "remove", "--force", str(BASE_TREE)], cwd=PROJECT_ROOT, check=False, capture_output=True
    )
    shutil.rmtree(BASE_TREE, ignore_errors=True)
    subprocess.run(["git", "worktree", "prune"], cwd=PROJECT_ROOT, check=False)


def adopt_state(base: Synthesized, new: Synthesized) -> None:
    """Each synth keeps its state under its own project root: give the new synth a copy of the deployed state."""
    deployed = dict(zip(base.stacks, base.state_files(), strict=True))
    for name, target in zip(new.stacks, new.state_files(), strict=True):
        if name not in deployed:
            raise DeployError(f"stack {name} is new: a refactor adds no stack")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(deployed[name], target)


def changes_of(plans: dict[str, Path]) -> dict[tuple[str, str], object]:
    """(stack, address) -> the change, for every resource a plan would create, update, replace or delete."""
    from tools.plan_review.classify import Kind, kind_of
    from tools.plan_review.model import load_plan

    found = {}
    for stack, path in plans.items():
        for change in load_plan(path, stack=stack).resource_changes:
            if kind_of(change.change.actions) not in (Kind.NO_OP, Kind.READ):
                found[(stack, change.address)] = change.change
    return found


def not_standing(refactor: dict, standing: dict) -> dict:
    """The refactor's changes that planning the base against itself does not show identically."""
    return {key: change for key, change in refactor.items() if standing.get(key) != change}


def describe(stack: str, address: str, change) -> str:
    """One line per change: what happens to which resource, and which attributes differ (a code-only change of a
    function shows as its package's filename and source_code_hash)."""
    from tools.plan_review.values import attribute_changes

    changed = sorted(
        {
            item.path.split(".")[0].split("[")[0]
            for item in attribute_changes(change.before, change.after, after_unknown=change.after_unknown)
        }
    )
    return f"{stack}: {'/'.join(change.actions)} {address} ({', '.join(changed) or 'no attribute'})"


def run(rev: str, report=print) -> list[str]:
    """Deploy REV, plan the working tree; returns one line per change the refactor would make (empty: none)."""
    from modules.config import config_path_from_env, load_config
    from tools.emulator import start_emulator

    config = load_config(config_path_from_env())
    tc = toolchain()
    emulator = start_emulator(reuse=False)
    base = new = None
    engine = TerraformEngine(tc, emulator_environment(emulator.url, config.environment), report)
    try:
        base = synthesize_revision(rev, emulator.url, config.environment)
        report(f"deploying {rev} ({len(base.stacks)} stacks) on {emulator.url} ...")
        engine.deploy(base)
        new = synthesize(emulator.url, NEW_OUTDIR, config.environment)
        adopt_state(base, new)
        refactor = changes_of(engine.plan(new))
        standing = changes_of(engine.plan(base, sorted({stack for stack, _ in refactor}))) if refactor else {}
        left = not_standing(refactor, standing)
        report(
            f"{len(refactor) - len(left)} standing emulator difference(s) left out (the same when {rev} is "
            "planned against itself)"
        )
        return [describe(stack, address, change) for (stack, address), change in sorted(left.items())]
    finally:
        if base is not None:
            engine.destroy(base)
            remove_state(base)
        if new is not None:
            remove_state(new)
        forget_revision()
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    parser = argparse.ArgumentParser(prog="python -m tools.local.refactor_plan", description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision deployed first (default main)")
    args = parser.parse_args(argv)
    try:
        problems = run(args.base)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in problems:
        print(line)
    print(
        f"{len(problems)} change(s) against {args.base}"
        if problems
        else f"every stack plans no change against {args.base}'s deployment"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
