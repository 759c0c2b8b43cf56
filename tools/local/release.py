"""A model release on the local emulator: what `make e2e` does after the first deploy, and `make verify-local`.

The release path is the one of docs/releases.md's "Ship a new model", run against the deployed emulator pipeline:
package a second model version, upload it (an existing version is never overwritten), set the version in a copy
of the environment file, plan every stack and check the plan holds exactly a release, apply the checked plans,
verify, prove that verify catches a silent rollback, and (back in the e2e) push a job through the new model.

What stands in for what the emulator cannot run: SageMaker hosts nothing here, so "the endpoint's model answers"
means the model server (containers/inference) started on the artifact that the endpoint's current model names,
downloaded from the emulated bucket as SageMaker would; and the API's functions run in-process (smoke.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.local.deploy import (
    Synthesized,
    TerraformEngine,
    emulator_environment,
    reuse_initialised,
    stack_outputs,
    synthesize,
)
from tools.local.smoke import ModelServer, Steps, in_process_api
from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT

WORK_DIR = BUILD_DIR / "local-release"
RELEASE_OUTDIR = BUILD_DIR / "cdktf.out.local-e2e-release"
METADATA_FILE = "metadata.json"


def emulator_client(service: str, url: str, region: str) -> Any:
    """A boto3 client on the emulator at URL, with its placeholder credentials."""
    import boto3

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
    return session.client(service, endpoint_url=url)


@contextlib.contextmanager
def served_model(s3: Any, artifact_uri: str) -> Iterator[tuple[ModelServer, Path]]:
    """The model server on the artifact at ARTIFACT_URI (downloaded and extracted as SageMaker would)."""
    from containers.inference.train import extract

    bucket, _, key = artifact_uri.removeprefix("s3://").partition("/")
    with tempfile.TemporaryDirectory(prefix="released-model-") as scratch:
        archive = Path(scratch) / "model.tar.gz"
        s3.download_file(bucket, key, str(archive))
        model_dir = extract(archive, Path(scratch) / "model")
        server = ModelServer.start(model_dir)
        try:
            yield server, model_dir
        finally:
            server.stop()


def smoke_through_the_api(s3: Any, applied: Any, request: Any) -> tuple[list[str], Any]:
    """POST /v1/predict through the predict function's own code, answered by the endpoint's current artifact."""
    from tools.release.verify import smoke_differences

    with served_model(s3, applied.artifact_uri) as (server, _):
        environment = {"MODEL_BACKEND": "http", "MODEL_URL": server.url}
        return smoke_differences(in_process_api(environment), request)


def verify_deployment(
    config: Any, outputs: dict[str, dict[str, Any]], url: str, *, smoke: bool, report: Callable[[str], None]
) -> tuple[list[str], Any]:
    """The checks of `make verify` on a deployment on the emulator at URL: (differences, the smoke answer)."""
    from tools.release.verify import Applied, endpoint_differences

    applied = Applied.from_outputs(outputs)
    differences = endpoint_differences(emulator_client("sagemaker", url, config.region), applied)
    if not differences:
        report(f"endpoint {applied.endpoint_name} serves {applied.configuration_name} (model {applied.model_name})")
    response = None
    if smoke:
        problems, response = smoke_through_the_api(
            emulator_client("s3", url, config.region), applied, json.loads(config.inference.smoke_request)
        )
        differences += problems
        if response is not None and not problems:
            report(f"POST /v1/predict answered 200 (model_version {response.body.get('model_version', '?')})")
    return differences, response


def verify_local(config: Any, *, smoke: bool, report: Callable[[str], None]) -> list[str]:
    """`make verify-local`: the release checks on the deployment of `make deploy-local`."""
    from tools.local.__main__ import read_session
    from tools.local.deploy import dependency_levels, read_stacks
    from tools.terraform_cli import toolchain

    session = read_session()
    if session is None:
        return ["no local deployment recorded (.build/local-deploy.json): run `make deploy-local` first"]
    url, outdir = session["emulator_url"], Path(session["outdir"])
    stacks = read_stacks(outdir)
    synth = Synthesized(outdir=outdir, stacks=stacks, levels=dependency_levels(stacks), seconds=0.0)
    outputs = stack_outputs(toolchain(), synth, emulator_environment(url, session.get("environment")))
    return verify_deployment(config, outputs, url, smoke=smoke, report=report)[0]


@dataclass
class ReleaseRun:
    synth: Synthesized  # the release's synth: what is deployed now (destroy uses it)
    model_dir: Path  # the released model's files
    version: str
    plan_summary: str  # per stack: how many resources change how


def run_release(
    steps: Steps,
    *,
    engine: TerraformEngine,
    synth: Synthesized,
    emulator_url: str,
    config: Any,
    config_path: Path,
    outputs: dict[str, dict[str, Any]],
    report: Callable[[str], None],
) -> ReleaseRun:
    """Every release step on the deployed emulator pipeline; raises StepFailed at the first failed step."""
    from containers.inference.train import write_model_dir
    from tools.plan_review.model import load_plan
    from tools.release.artifact import ReleaseError, package, upload
    from tools.release.config_file import set_model_version
    from tools.release.plan_check import check_release_plan, render_counts, suspect_stacks
    from tools.release.verify import Applied

    shutil.rmtree(WORK_DIR, ignore_errors=True)
    s3, sagemaker = (
        emulator_client("s3", emulator_url, config.region),
        emulator_client("sagemaker", emulator_url, config.region),
    )
    before = Applied.from_outputs(outputs)
    # What SageMaker would roll back to; the apply deletes it (create_before_destroy), so keep its description.
    rolled_back_to = _describe_release(sagemaker, before)
    bucket = outputs["storage"]["artifacts_bucket_name"]

    with steps.step("release: package a second model version (trained now; version = its content hash)") as note:
        model_dir = write_model_dir(WORK_DIR / "model")
        artifact = package(model_dir, WORK_DIR / "archive")
        note["detail"] = f"version {artifact.version}, {artifact.path.stat().st_size} bytes"

    with steps.step(
        f"release: upload to models/{config.inference.model_name}/{artifact.version}/, which is never overwritten"
    ) as note:
        key = config.inference.artifact_key(artifact.version)
        first, again = upload(s3, artifact, bucket, key), upload(s3, artifact, bucket, key)
        assert first.created and not again.created, "the first upload writes, the same bytes again are a no-op"
        (WORK_DIR / "model" / "NOTES.txt").write_text("other bytes under the same version\n")
        other = package(WORK_DIR / "model", WORK_DIR / "other", version=artifact.version)
        try:
            upload(s3, other, bucket, key)
            raise AssertionError("other bytes under an existing version were uploaded")
        except ReleaseError as refusal:
            note["detail"] = f"{first.uri}; other bytes refused: {str(refusal)[:80]}..."
        (WORK_DIR / "model" / "NOTES.txt").unlink()

    with steps.step("release: set inference.model_version in a copy of the environment file") as note:
        edited = WORK_DIR / "config" / config_path.name
        edited.parent.mkdir(parents=True)
        shutil.copy(config_path, edited)
        note["detail"] = f"{set_model_version(edited, artifact.version)} -> {artifact.version}"

    with steps.step(
        "release plan: the new model and endpoint configuration, the endpoint updated in place, "
        "nothing else in any stack"
    ) as note:
        release = synthesize(emulator_url, RELEASE_OUTDIR, config.environment, config_path=edited)
        reuse_initialised(synth, release)
        plans = [load_plan(path, stack=name) for name, path in engine.plan(release).items()]
        checked = check_release_plan(plans)
        suspects = suspect_stacks(checked)
        if suspects:  # what the emulator shows on every plan: the same stacks planned without the release
            baseline = engine.plan(synth, suspects)
            checked = check_release_plan(plans, [load_plan(path, stack=name) for name, path in baseline.items()])
        note["detail"] = render_counts(checked.counts) + (
            f"; {len(checked.standing)} standing emulator difference(s) left out, the same without the release"
            if checked.standing
            else ""
        )
        report(f"  release plan: {note['detail']}")
        for line in checked.standing:
            report(f"    standing (moto echoes it differently on every plan): {line}")
        assert not checked.problems, "not only a release:\n" + "\n".join(checked.problems)

    with steps.step("release: apply the checked plans"):
        engine.apply_plans(release, [stack for stack, kinds in checked.counts.items() if kinds])
        released_outputs = stack_outputs(engine.toolchain, release, engine.env)
        applied = Applied.from_outputs(released_outputs)

    with steps.step(
        "verify (make verify-local's checks): the endpoint serves the configuration the apply created, "
        "POST /v1/predict answers from the released model"
    ) as note:
        differences, response = verify_deployment(config, released_outputs, emulator_url, smoke=True, report=report)
        assert not differences, "\n".join(differences)
        assert applied.configuration_name != before.configuration_name and artifact.version in applied.artifact_uri
        expected = json.loads((model_dir / METADATA_FILE).read_text())["model_version"]
        assert response.body.get("model_version") == expected, f"answered by {response.body.get('model_version')}"
        note["detail"] = f"{before.configuration_name} -> {applied.configuration_name}, model_version {expected}"

    with steps.step(
        "verify fails (exit 1, naming both configurations) after a silent rollback, passes once restored"
    ) as note:
        line = _simulate_silent_rollback(sagemaker, rolled_back_to, applied, emulator_url, edited)
        note["detail"] = line[:160]

    return ReleaseRun(
        synth=release, model_dir=model_dir, version=artifact.version, plan_summary=render_counts(checked.counts)
    )


def _describe_release(sagemaker: Any, applied: Any) -> dict[str, Any]:
    """What it takes to re-create a release's model and endpoint configuration (CreateModel, CreateEndpointConfig)."""
    model = sagemaker.describe_model(ModelName=applied.model_name)
    container = {
        key: value
        for key, value in model["PrimaryContainer"].items()
        if key in ("Image", "ModelDataUrl", "Environment", "Mode")
    }
    config = sagemaker.describe_endpoint_config(EndpointConfigName=applied.configuration_name)
    return {
        "model": {
            "ModelName": applied.model_name,
            "ExecutionRoleArn": model["ExecutionRoleArn"],
            "PrimaryContainer": container,
        },
        "config": {
            "EndpointConfigName": applied.configuration_name,
            "ProductionVariants": config["ProductionVariants"],
        },
    }


def _simulate_silent_rollback(
    sagemaker: Any, previous: dict[str, Any], applied: Any, url: str, config_path: Path
) -> str:
    """What a rollback SageMaker performs looks like afterwards: the endpoint back on the configuration of before the
    release, which the apply then deleted with its model (create_before_destroy). Then `python -m tools.release
    verify` must exit 1 naming both configurations; restored to the applied configuration, verify must pass."""
    from tools.release.verify import endpoint_differences

    old_config = previous["config"]["EndpointConfigName"]
    sagemaker.create_model(**previous["model"])
    sagemaker.create_endpoint_config(**previous["config"])
    try:
        sagemaker.update_endpoint(EndpointName=applied.endpoint_name, EndpointConfigName=old_config)
        sagemaker.delete_endpoint_config(EndpointConfigName=old_config)
        sagemaker.delete_model(ModelName=previous["model"]["ModelName"])
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(
                {
                    "inference": {
                        "endpoint_name": applied.endpoint_name,
                        "endpoint_configuration_name": applied.configuration_name,
                        "model_name": applied.model_name,
                        "model_artifact_uri": applied.artifact_uri,
                    }
                },
                handle,
            )
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "PIPELINE_CONFIG": str(config_path),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "tools.release", "verify", "--outputs", handle.name, "--no-smoke"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        Path(handle.name).unlink()
        lines = [line for line in proc.stdout.splitlines() if line.startswith("DIFFERS")]
        assert proc.returncode == 1, (
            f"verify exited {proc.returncode} on a rolled-back endpoint: {proc.stdout}{proc.stderr}"
        )
        assert lines and old_config in lines[0] and applied.configuration_name in lines[0], proc.stdout
        assert "no longer exists" in lines[0], lines[0]
    finally:
        sagemaker.update_endpoint(EndpointName=applied.endpoint_name, EndpointConfigName=applied.configuration_name)
    assert not endpoint_differences(sagemaker, applied), "verify must pass again once the release is restored"
    return lines[0]
