"""`make plan-local [CONFIG=file]`: a real plan review in a minute, without an AWS account.

Plans every stack of the local deployment (`make deploy-local`) against the emulator with the real Terraform CLI,
as CI plans a pull request against AWS: the configuration (the deployed environment's file, or CONFIG, a changed
copy of it) is synthesized against the emulator into .build/cdktf.out.local-plan/, each stack is planned against
the deployment's own state, `terraform show -json` writes .build/plans/local/<stack>/plan.json, and the review is
`python -m tools.plan_review` over those files (the folder names the stack), exactly as the plan workflow runs it.

Plans skip the refresh (-refresh=false): nothing changes the emulator behind Terraform's back, so the state is
what is deployed, and reading every resource back would double the time. Each stack reuses the deployment's
`terraform init` (same providers, same backend path) and one provider process for plan and show.

CONFIG is read as the deployed environment: copied to .build/plan-local/<environment>.toml, so its name comes from
the deployment, not from the file name (a file that sets another `environment` is refused).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.local.deploy import DeployError, Synthesized, TerraformEngine, emulator_environment, synthesize
from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT, TerraformNotFound, shared_provider, toolchain

PLAN_OUTDIR = BUILD_DIR / "cdktf.out.local-plan"
PLANS_DIR = BUILD_DIR / "plans" / "local"
CONFIG_COPY_DIR = BUILD_DIR / "plan-local"
EXIT_FAILED, EXIT_USAGE = 1, 2


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def config_for(deployed_environment: str, changed: Path | None) -> Path:
    """The file to synthesize: the deployed environment's own, or CHANGED read as that environment."""
    if changed is None:
        return PROJECT_ROOT / "config" / f"{deployed_environment}.toml"
    try:
        named = tomllib.loads(changed.read_text()).get("environment", deployed_environment)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DeployError(f"CONFIG={changed}: {exc}") from None
    if named != deployed_environment:
        raise DeployError(f"CONFIG={changed} sets environment = {named!r}, but the local deployment is "
                          f"{deployed_environment!r}: plans compare against that deployment's state")
    copy = CONFIG_COPY_DIR / f"{deployed_environment}.toml"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(changed, copy)
    return copy


def reuse_initialized(deployed: Path, synth: Synthesized) -> None:
    """Copy each stack's `terraform init` result from the deployment's synth folder (same providers, same backend
    path relative to the stack): a fresh synth then needs no init, which is most of a plan's start-up."""
    for name, stack in synth.stacks.items():
        source = deployed / "stacks" / name
        if (source / ".terraform" / "terraform.tfstate").is_file() and (source / ".terraform.lock.hcl").is_file():
            shutil.copytree(source / ".terraform", stack.directory / ".terraform", symlinks=True, dirs_exist_ok=True)
            shutil.copy2(source / ".terraform.lock.hcl", stack.directory / ".terraform.lock.hcl")


def plan_stack(tc, synth: Synthesized, name: str, env: dict[str, str], plans: Path) -> Path:
    """`terraform plan` of one stack against the deployment's state, then its JSON form."""
    directory = synth.stacks[name].directory
    with shared_provider(directory, tc.env(env)) as reattach:
        planned = tc.run(["plan", "-input=false", "-no-color", "-lock=false", "-refresh=false", "-out=plan.bin"],
                         directory, check=False, env={**env, **reattach})
        if planned.returncode != 0:
            raise DeployError(f"{name}: terraform plan failed:\n{planned.stderr.strip()[-3000:]}")
        shown = tc.run(["show", "-json", "plan.bin"], directory, check=False, env={**env, **reattach})
    if shown.returncode != 0:
        raise DeployError(f"{name}: terraform show -json failed:\n{shown.stderr.strip()[-3000:]}")
    target = plans / name / "plan.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(shown.stdout)
    return target


def run(changed: Path | None, plans: Path = PLANS_DIR) -> int:
    from tools.pipeline.deployment import deployment_record_path, read_record

    record = read_record()
    environment, url = record["environment"], str(record["emulator_url"]).rstrip("/")
    tc = toolchain()
    began = time.monotonic()
    os.environ["PIPELINE_CONFIG"] = str(config_for(environment, changed))
    say(f"planning {environment} ({Path(os.environ['PIPELINE_CONFIG']).relative_to(PROJECT_ROOT)}) against the "
        f"local deployment on {url} (recorded in {deployment_record_path().name})")
    synth = synthesize(url, PLAN_OUTDIR, environment)
    env = emulator_environment(url, environment)
    reuse_initialized(Path(record["outdir"]), synth)
    TerraformEngine(tc, env, say).init(synth)  # what is left, one after the other: the plugin cache is not shared-safe
    shutil.rmtree(plans, ignore_errors=True)
    order = [name for level in synth.levels for name in level]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        files = list(pool.map(lambda name: plan_stack(tc, synth, name, env, plans), order))
    say(f"{len(files)} plan(s) in {time.monotonic() - began:.0f} s: "
        f"{', '.join(str(f.relative_to(PROJECT_ROOT)) for f in files)}")
    review = subprocess.run([sys.executable, "-m", "tools.plan_review", *map(str, files)], cwd=PROJECT_ROOT,
                            check=False)
    return review.returncode


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    parser = argparse.ArgumentParser(prog="python -m tools.local.plan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="a changed copy of the environment's file to plan instead")
    args = parser.parse_args(argv)
    from tools.pipeline.deployment import DeploymentError

    try:
        return run(args.config.resolve() if args.config else None)
    except (DeployError, DeploymentError, TerraformNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
