"""`python -m tools.release`: ship a new model, one command per step (docs/releases.md: "Ship a new model").

  package MODEL_DIR [--version V]   model.tar.gz under .build/release/, version = its content hash unless given
  upload ARCHIVE --version V        to models/<model_name>/<V>/model.tar.gz; never overwrites another artifact
  set-version V                     inference.model_version = V in the environment's file (comments kept)
  release MODEL_DIR [--version V]   the three above in a row
  promote                           the shadow's version becomes the production version; [inference.shadow] goes
  check-plan PLAN.json...           exit 0 only if the plans hold exactly a model release
  verify [--local]                  the endpoint serves the applied configuration; POST /v1/predict answers

The environment is PIPELINE_ENV (default local) or the file PIPELINE_CONFIG. Exit codes: 0 done, 1 refused or a
difference found (one line each), 2 unreadable input (config, plans, outputs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.release.artifact import ReleaseError, ReleaseInputError, package, upload
from tools.release.config_file import promote_shadow, set_model_version

BUILD_DIR = Path(__file__).resolve().parents[2] / ".build" / "release"
EXIT_REFUSED, EXIT_INPUT = 1, 2
VERIFIED_STACKS = ("inference", "api")


def say(message: str) -> None:
    print(message, flush=True)


def _config_path() -> Path:
    from modules.config import config_path_from_env

    return config_path_from_env()


def _config():
    from modules.config import load_config

    return load_config(_config_path())


@dataclass(frozen=True)
class EmulatorSession:
    """What `_session` gives an emulator-only environment: every client reaches the recorded emulator."""

    url: str
    region: str

    def client(self, service: str) -> Any:
        from tools.local.release import emulator_client

        return emulator_client(service, self.url, self.region)


def _session(config) -> Any:
    """boto3 for CONFIG's environment. One without allowed_account_ids (local) exists only on the emulator of
    `make deploy-local`, so its release goes there, never to whatever account the shell's credentials reach
    (its bucket names carry no account id and could be anyone's); with no deployment recorded it is refused.
    An explicit AWS_ENDPOINT_URL (the e2e's private emulator) is used as given."""
    import boto3

    if config.allowed_account_ids or os.environ.get("AWS_ENDPOINT_URL"):
        return boto3.session.Session(region_name=config.region)
    from tools.local.__main__ import read_session

    recorded = read_session()
    if recorded is None:
        raise ReleaseError(
            f"{config.environment} has no allowed_account_ids: it is released onto the emulator of "
            "`make deploy-local`, and no local deployment is recorded (.build/local-deploy.json): run "
            "`make deploy-local` first"
        )
    return EmulatorSession(recorded["emulator_url"], config.region)


def artifacts_bucket(config) -> str:
    return config.storage.bucket_name(config.name_prefix, "artifacts", config.account_id)


# --- package / upload / set-version / release / promote --------------------------------------------------------


def cmd_package(args: argparse.Namespace) -> int:
    artifact = package(Path(args.model_dir), Path(args.output), args.version)
    say(f"packaged {artifact.files} file(s) into {artifact.path}\nversion {artifact.version}\nsha256 {artifact.sha256}")
    return 0


def cmd_upload(args: argparse.Namespace) -> int:
    from tools.release.artifact import Artifact, sha256_of

    config = _config()
    path = Path(args.archive)
    if not path.is_file():
        raise ReleaseInputError(f"{path}: no such archive (make one with `python -m tools.release package`)")
    artifact = Artifact(path=path, sha256=sha256_of(path), version=args.version, files=0)
    return _upload(config, artifact)


def _upload(config, artifact) -> int:
    key = config.inference.artifact_key(artifact.version)
    result = upload(_session(config).client("s3"), artifact, artifacts_bucket(config), key)
    say(f"uploaded {result.uri}" if result.created else f"{result.uri} already holds this archive: nothing to do")
    return 0


def cmd_set_version(args: argparse.Namespace) -> int:
    path = _config_path()
    previous = set_model_version(path, args.version)
    say(
        f"{path.name}: inference.model_version {previous or '(default)'} -> {args.version}"
        if previous != args.version
        else f"{path.name}: inference.model_version is already {args.version}"
    )
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    config = _config()
    artifact = package(Path(args.model_dir), Path(args.output), args.version)
    say(f"packaged {artifact.files} file(s): version {artifact.version}, sha256 {artifact.sha256}")
    _upload(config, artifact)
    cmd_set_version(argparse.Namespace(version=artifact.version))
    say(
        "next: review the plan (it must show a new model, a new endpoint configuration and an in-place endpoint "
        "update, nothing else: `python -m tools.release check-plan`), apply, then `make verify`"
    )
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    path = _config_path()
    old, new = promote_shadow(path)
    say(f"{path.name}: inference.model_version {old} -> {new}; [inference.shadow] removed")
    return 0


# --- check-plan ------------------------------------------------------------------------------------------------


def cmd_check_plan(args: argparse.Namespace) -> int:
    from tools.plan_review.cli import load_all
    from tools.plan_review.model import PlanError
    from tools.release.plan_check import check_release_plan, render_counts

    try:
        plans = load_all(args.plans)
    except PlanError as error:
        raise ReleaseInputError(str(error)) from None
    result = check_release_plan(plans)
    say(render_counts(result.counts))
    for problem in result.problems:
        say(f"NOT A RELEASE {problem}")
    return EXIT_REFUSED if result.problems else 0


# --- verify ----------------------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    from tools.release.verify import Applied, endpoint_differences, smoke_differences

    config = _config()
    if args.local:
        from tools.local.release import verify_local

        differences = verify_local(config, smoke=not args.no_smoke, report=say)
    else:
        outputs = _read_outputs(args)
        applied = Applied.from_outputs(outputs)
        session = _session(config)
        differences = endpoint_differences(session.client("sagemaker"), applied)
        if not differences:
            say(f"endpoint {applied.endpoint_name} serves {applied.configuration_name} (model {applied.model_name})")
        if not args.no_smoke:
            problems, response = smoke_differences(_api_call(config, outputs, session), _smoke_body(config))
            differences += problems
            if response is not None and not problems:
                say(f"POST /v1/predict answered 200 (model_version {response.body.get('model_version', '?')})")
    for difference in differences:
        say(f"DIFFERS {difference}")
    say("verified" if not differences else f"NOT VERIFIED: {len(differences)} difference(s)")
    return EXIT_REFUSED if differences else 0


def _smoke_body(config) -> Any:
    return json.loads(config.inference.smoke_request)


def _api_call(config, outputs: dict[str, dict[str, Any]], session):
    from tools.api_client import ApiClient

    api = outputs.get("api") or {}
    if not api.get("api_invoke_url"):
        raise ReleaseInputError("the api stack's outputs lack api_invoke_url: apply it first, or pass --no-smoke")
    return ApiClient(
        api["api_invoke_url"], api.get("api_auth", config.api.auth), config.region, session=session
    ).request


def _read_outputs(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """stack -> output -> value: from --outputs (a JSON file of that shape), else `terraform output -json` in each
    stack's folder under --stacks (initialised by the apply that just ran)."""
    if args.outputs:
        try:
            return json.loads(Path(args.outputs).read_text())
        except (OSError, ValueError) as error:
            raise ReleaseInputError(f"{args.outputs}: not a JSON file of stack outputs ({error})") from None
    from tools.terraform_cli import TerraformNotFound, find_terraform_binary

    try:
        terraform = str(find_terraform_binary())
    except TerraformNotFound as error:
        raise ReleaseInputError(str(error)) from None
    outputs = {}
    for stack in VERIFIED_STACKS:
        folder = Path(args.stacks) / stack
        proc = subprocess.run(
            [terraform, f"-chdir={folder}", "output", "-json", "-no-color"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "TF_IN_AUTOMATION": "1"},
        )
        if proc.returncode != 0:
            raise ReleaseInputError(
                f"{folder}: terraform output failed ({proc.stderr.strip()[-300:]}); run it where the "
                f"stacks were applied (terraform init done), or pass --outputs FILE"
            )
        outputs[stack] = {name: item.get("value") for name, item in json.loads(proc.stdout or "{}").items()}
    return outputs


# --- entry -----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.release", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, helptext in (
        ("package", cmd_package, "package a model directory into model.tar.gz"),
        ("release", cmd_release, "package, upload and set the version"),
    ):
        command = commands.add_parser(name, help=helptext)
        command.add_argument("model_dir", help="folder whose files go to the archive root (/opt/ml/model)")
        command.add_argument("--version", help="default: the first 12 hex digits of the archive's SHA-256")
        command.add_argument("--output", default=str(BUILD_DIR), help="where model.tar.gz is written")
        command.set_defaults(handler=handler)
    upload_command = commands.add_parser("upload", help="upload an archive as a version (never overwrites)")
    upload_command.add_argument("archive")
    upload_command.add_argument("--version", required=True)
    upload_command.set_defaults(handler=cmd_upload)
    version = commands.add_parser("set-version", help="set inference.model_version in the environment's file")
    version.add_argument("version")
    version.set_defaults(handler=cmd_set_version)
    commands.add_parser("promote", help="promote the shadow model").set_defaults(handler=cmd_promote)
    check = commands.add_parser("check-plan", help="exit 0 only if the plans hold exactly a model release")
    check.add_argument("plans", nargs="+", help="terraform show -json files, one per stack (STACK=PATH or <stack>/...)")
    check.set_defaults(handler=cmd_check_plan)
    verify = commands.add_parser("verify", help="after apply: the endpoint serves the release, the API answers")
    verify.add_argument("--stacks", default="cdktf.out/stacks", help="applied stack folders (terraform output)")
    verify.add_argument("--outputs", help="a JSON file {stack: {output: value}} instead of terraform output")
    verify.add_argument("--no-smoke", action="store_true", help="skip the request through the API")
    verify.add_argument("--local", action="store_true", help="the local deployment on the emulator (make deploy-local)")
    verify.set_defaults(handler=cmd_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from modules.config import ConfigError

    try:
        return int(args.handler(args))
    except (ReleaseInputError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except ReleaseError as error:
        print(f"refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
