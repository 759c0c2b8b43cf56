"""`make diff` / `make deploy`: the cdktf CLI on one named environment, after saying which account it will touch.

Why a guard: the bare cdktf commands synthesize whatever PIPELINE_ENV the shell has (`local` when unset) and deploy
it to whatever account the shell's credentials reach. Before anything runs, in order:
1. PIPELINE_ENV (or PIPELINE_CONFIG) must be set explicitly;
2. an environment without allowed_account_ids lives on the emulator only (`make deploy-local`): refused;
3. the caller's account (STS GetCallerIdentity) must be one of allowed_account_ids.
Then it prints the environment, account, region and stacks; synthesizes that environment into cdktf.out/ (so the
JSON deployed is this environment's, whatever was synthesized before) and checks that the synthesized providers
name the same accounts; and runs cdktf with --skip-synth on the selected stacks (`'*'`, names or globs), with the
project's own Terraform CLI configuration (offline provider mirror, tools/terraform_cli.py) where one is found.

`cdktf diff` takes one stack at a time, so diff runs it per stack in dependency order; deploy passes them all and
cdktf orders them. Exit codes: 0 done, 1 cdktf failed, 2 refused before anything ran.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

from tools.terraform_cli import PROJECT_ROOT, TerraformNotFound, toolchain

CDKTF = PROJECT_ROOT / "node_modules" / ".bin" / "cdktf"
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


class Refused(Exception):
    """A guard said no before anything ran; the message is the one line the user sees."""


def environment_config():
    """The environment named explicitly by PIPELINE_ENV or PIPELINE_CONFIG; never a default."""
    from modules.config import config_path_from_env, load_config

    if not (os.environ.get("PIPELINE_ENV") or os.environ.get("PIPELINE_CONFIG")):
        known = ", ".join(sorted(p.stem for p in (PROJECT_ROOT / "config").glob("*.toml")))
        raise Refused(f"name the environment, e.g. PIPELINE_ENV=dev make diff (environments: {known}; local "
                      "deploys with make deploy-local)")
    path = config_path_from_env()
    config = load_config(path)
    if not config.allowed_account_ids:
        raise Refused(f"{config.environment} ({path.name}) has no allowed_account_ids: it is deployed only onto "
                      "the local emulator, with make deploy-local (its provider refuses every real account)")
    return path, config


def caller_identity(region: str) -> dict[str, str]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return boto3.client("sts", region_name=region).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise Refused(f"cannot tell which AWS account your credentials reach ({exc}); sign in first "
                      "(aws sso login, or AWS_PROFILE)") from None


def select_stacks(patterns: list[str], outdir: Path) -> list[str]:
    """Stack names of OUTDIR's manifest matching PATTERNS (names or globs, `*` for all), in dependency order."""
    from tools.local.deploy import dependency_levels, read_stacks

    order = [name for level in dependency_levels(read_stacks(outdir)) for name in level]
    selected = set()
    for pattern in patterns or ["*"]:
        matched = fnmatch.filter(order, pattern)
        if not matched:
            raise Refused(f"no stack matches {pattern!r}; stacks: {', '.join(order)}")
        selected.update(matched)
    return [name for name in order if name in selected]


def synthesize(path: Path, outdir: Path) -> None:
    env = {**os.environ, "PIPELINE_CONFIG": str(path), "CDKTF_OUTDIR": str(outdir)}
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py")], cwd=PROJECT_ROOT, env=env, text=True,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or [f"synth failed (exit {proc.returncode})"]
        raise Refused(lines[-1].removeprefix("error: "))


def synthesized_for(outdir: Path, config) -> dict:
    """The manifest of OUTDIR, after checking that every stack in it is CONFIG's environment and accounts."""
    try:
        manifest = json.loads((outdir / "manifest.json").read_text())
    except (OSError, ValueError):
        raise Refused(f"no synthesized stacks in {outdir}") from None
    for stack in manifest["stacks"].values():
        doc = json.loads((outdir / stack["synthesizedStackPath"]).read_text())
        provider = doc["provider"]["aws"][0]
        environment = provider.get("default_tags", [{}])[0].get("tags", {}).get("environment")
        if environment != config.environment or provider.get("allowed_account_ids") != list(config.allowed_account_ids):
            raise Refused(f"{outdir}/{stack['synthesizedStackPath']} is environment {environment!r} for accounts "
                          f"{provider.get('allowed_account_ids')}, not {config.environment!r}: synthesize again")
    return manifest


def cdktf_commands(action: str, stacks: list[str], all_stacks: list[str], outdir: Path, *, auto_approve: bool,
                   offline: bool) -> list[list[str]]:
    common = ["--skip-synth", "--output", str(outdir)] + (["--skip-provider-lock"] if offline else [])
    if action == "diff":
        return [[str(CDKTF), "diff", stack, *common] for stack in stacks]
    subset = ["--ignore-missing-stack-dependencies"] if set(stacks) != set(all_stacks) else []
    return [[str(CDKTF), "deploy", *stacks, *common, *subset, *(["--auto-approve"] if auto_approve else [])]]


def run(args: argparse.Namespace) -> int:
    path, config = environment_config()
    identity = caller_identity(config.region)
    account = identity.get("Account")
    if account not in config.allowed_account_ids:
        raise Refused(f"your credentials reach account {account} ({identity.get('Arn')}), but {config.environment} "
                      f"may only touch {', '.join(config.allowed_account_ids)} (allowed_account_ids): switch "
                      "credentials")
    print(f"{args.action}: environment {config.environment} ({path.name}), account {account} "
          f"({identity.get('Arn')}), region {config.region}", flush=True)
    outdir = Path(os.environ.get("CDKTF_OUTDIR") or PROJECT_ROOT / "cdktf.out")
    if not args.skip_synth:
        synthesize(path, outdir)
    manifest = synthesized_for(outdir, config)
    stacks = select_stacks(args.stacks, outdir)
    env = dict(os.environ)
    try:
        env = toolchain().env(env)  # the project's CLI configuration: the offline provider mirror
        offline = True
    except TerraformNotFound:
        offline = False  # no mirror on this machine: Terraform installs providers from the registry
    print(f"stacks: {', '.join(stacks)} (from {outdir}, synthesized {'earlier' if args.skip_synth else 'now'})",
          flush=True)
    commands = cdktf_commands(args.action, stacks, list(manifest["stacks"]), outdir,
                              auto_approve=args.auto_approve, offline=offline)
    failed = []
    for command in commands:
        print("$ " + " ".join(Path(part).name if part == str(CDKTF) else part for part in command), flush=True)
        if args.dry_run:
            continue
        if subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=False).returncode != 0:
            failed.append(command[2] if args.action == "diff" else args.action)
    if failed:
        print(f"error: cdktf {args.action} failed: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    parser = argparse.ArgumentParser(prog="python -m tools.deploy_guard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("diff", "deploy"))
    parser.add_argument("stacks", nargs="*", help="stack names or globs (default: every stack, '*')")
    parser.add_argument("--auto-approve", action="store_true", help="deploy without cdktf's approval prompts")
    parser.add_argument("--skip-synth", action="store_true",
                        help="use cdktf.out as it is (checked to be this environment's)")
    parser.add_argument("--dry-run", action="store_true", help="guards, synth and the cdktf commands, not run")
    args = parser.parse_intermixed_args(argv)
    try:
        return run(args)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except Exception as exc:
        from modules.config import ConfigError

        if isinstance(exc, ConfigError):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        raise


if __name__ == "__main__":
    sys.exit(main())
