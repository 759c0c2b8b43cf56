"""`make drift` (python -m tools.plan_review.drift) on a real deployment: clean, then changed out of band with boto3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.tools.live_stacks import REGION, Live, live_deployment, resources
from tools.plan_review import drift
from tools.plan_review.saved import Terraform
from tools.terraform_cli import TerraformToolchain

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]


def jobs_stack(url: str) -> dict:
    return resources(
        url,
        {
            "aws_cloudwatch_log_group": {"jobs": {"name": "/drift/jobs", "retention_in_days": 7}},
            "aws_ssm_parameter": {"mode": {"name": "/drift/mode", "type": "String", "insecure_value": "blue"}},
        },
    )


def quiet_stack(url: str) -> dict:
    return resources(
        url, {"aws_ssm_parameter": {"quiet": {"name": "/drift/quiet", "type": "String", "insecure_value": "x"}}}
    )


@pytest.fixture(scope="module")
def live(terraform: TerraformToolchain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_deployment(
        terraform, tmp_path_factory.mktemp("drift"), {"jobs": (jobs_stack, []), "quiet": (quiet_stack, [])}
    ) as deployment:
        for stack in ("jobs", "quiet"):
            deployment.apply(stack)
            # The emulator reads back `tags` as {} where the state says null: Terraform reports that as drift
            # (rightly: it differs) until a refresh-only apply records it, as a person would once, after checking.
            deployment.terraform.run(
                ["apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color"], deployment.stack_dir(stack)
            )
        yield deployment


def check(live: Live, plans: Path, *extra: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(Terraform, "detect", classmethod(lambda cls, extra_env=None: live.terraform))
    monkeypatch.setenv("PIPELINE_ENV", "local")
    return drift.main(["--outdir", str(live.outdir), "--plans", str(plans), *extra])


def test_no_drift_exits_0_and_says_so(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "drift.md"
    assert check(live, tmp_path / "plans", "--output", str(report), monkeypatch=monkeypatch) == drift.EXIT_CLEAN
    said = capsys.readouterr().err.splitlines()
    assert (
        said[0]
        == f"drift: environment local (the emulator deployment of make deploy-local), stacks from {live.outdir}: jobs, quiet"
    )
    assert said[-1] == "drift: none (2 stacks checked)"
    text = report.read_text()
    assert "## Terraform drift review (refresh-only plans" in text and "No drift" in text


def test_drift_made_out_of_band_exits_2_and_is_reviewed_as_terraform_reports_it(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    session.client("logs", endpoint_url=live.url).put_retention_policy(logGroupName="/drift/jobs", retentionInDays=30)
    session.client("ssm", endpoint_url=live.url).delete_parameter(Name="/drift/mode")
    plans, report, as_json = tmp_path / "plans", tmp_path / "drift.md", tmp_path / "drift.json"
    code = check(live, plans, "--output", str(report), "--json-output", str(as_json), monkeypatch=monkeypatch)
    assert code == drift.EXIT_DRIFT
    stacks = {s["stack"]: s for s in json.loads(as_json.read_text())["stacks"]}
    assert stacks["jobs"]["state_writes"]["removed"] == ["aws_ssm_parameter.mode"]
    assert stacks["jobs"]["state_writes"]["updated"] == ["aws_cloudwatch_log_group.jobs"]
    assert stacks["quiet"]["drift"] == []
    text = report.read_text()
    assert "**1 object removed from state** (deleted outside Terraform): `aws_ssm_parameter.mode`" in text
    assert "`retention_in_days`: `7` → `30`" in text
    # the nightly workflow reviews the plans its matrix jobs made: same verdict, and an output for the issue step
    output = tmp_path / "github-output"
    assert (
        drift.main(
            [
                "--reuse-plans",
                "--plans",
                str(plans),
                "--output",
                str(tmp_path / "again.md"),
                "--github-output",
                str(output),
            ]
        )
        == drift.EXIT_DRIFT
    )
    assert output.read_text() == "drifted=true\n"
    assert (tmp_path / "again.md").read_text() == text


def test_nothing_deployed_locally_is_an_error_not_a_clean_bill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(drift, "LOCAL_SESSION", tmp_path / "absent.json")
    monkeypatch.setenv("PIPELINE_ENV", "local")
    assert drift.main(["--plans", str(tmp_path)]) == drift.EXIT_FAILED
    assert "run `make deploy-local` first" in capsys.readouterr().err
