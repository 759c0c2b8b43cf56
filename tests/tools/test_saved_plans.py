"""The reviewed plan is the applied plan: saved plans are applied only while they still hold, on a real
deployment (the emulator) with real state, real plan files and Terraform's own staleness check.

Two stacks as cdktf lays them out: `up` exports a value; `down` reads it through `terraform_remote_state` (how cdktf
passes values between stacks) into a parameter. The bootstrap `state` stack is in the manifest and never planned.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.tools.live_stacks import REGION, Live, live_deployment, remote_state, resources
from tools.plan_review.saved import (
    APPLY_SAVED,
    REPLAN,
    PlanContext,
    SavedPlanError,
    apply_plans,
    decide,
    fingerprint,
    main,
    plan_stack,
)
from tools.terraform_cli import TerraformToolchain

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]

CONTEXT = PlanContext(head_sha="a" * 40, tree="b" * 40, pipeline_env="prod")


def up_config(version: str):
    def config(url: str) -> dict:
        return resources(
            url,
            {"aws_ssm_parameter": {"version": {"name": "/up/version", "type": "String", "insecure_value": version}}},
            outputs={"version": {"value": "${aws_ssm_parameter.version.insecure_value}"}},
        )

    return config


def down_config(own: str, suffix: str = "pinned"):
    def config(url: str) -> dict:
        return resources(
            url,
            {
                "aws_ssm_parameter": {
                    "own": {"name": "/down/own", "type": "String", "insecure_value": own},
                    "pinned": {
                        "name": "/down/pinned",
                        "type": "String",
                        "insecure_value": f"${{data.terraform_remote_state.up.outputs.version}}-{suffix}",
                    },
                }
            },
            data=remote_state("up"),
        )

    return config


def bootstrap(url: str) -> dict:
    return resources(url, {})


@pytest.fixture(scope="module")
def deployment(terraform: TerraformToolchain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    stacks = {"state": (bootstrap, []), "up": (up_config("v1"), ["state"]), "down": (down_config("a"), ["up"])}
    with live_deployment(terraform, tmp_path_factory.mktemp("saved"), stacks) as live_:
        yield live_


def serials(live: Live) -> tuple[int, ...] | None:
    """The serials of both stacks' local state files (None before the first apply)."""
    try:
        return tuple(
            json.loads((live.stack_dir(s) / "terraform.tfstate").read_text())["serial"] for s in ("up", "down")
        )
    except OSError:
        return None


@pytest.fixture
def live(deployment: Live) -> Live:
    """The deployment at its base configuration and state: every test starts from the same place. Applied again
    only when a test moved a state on (an apply costs tens of seconds on a busy machine)."""
    change(deployment)
    if getattr(deployment, "base_serials", None) != serials(deployment) or serials(deployment) is None:
        deployment.apply("up")
        deployment.apply("down")
        deployment.base_serials = serials(deployment)
    return deployment


def parameter(live: Live, name: str) -> str:
    ssm = boto3.client(
        "ssm", endpoint_url=live.url, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    return ssm.get_parameter(Name=name)["Parameter"]["Value"]


def change(live: Live, *, up: str = "v1", own: str = "a", suffix: str = "pinned") -> None:
    """What a pull request changes: the synthesized configuration of both stacks."""
    live.write("up", up_config(up)(live.url))
    live.write("down", down_config(own, suffix)(live.url))


def save_plans(live: Live, to: Path, context: PlanContext = CONTEXT, stacks: tuple[str, ...] = ("up", "down")) -> None:
    for stack in stacks:
        plan_stack(live.terraform, live.stack_dir(stack), to / stack, stack=stack, context=context)


def decisions(live: Live, saved: Path, context: PlanContext = CONTEXT) -> dict[str, tuple[str, str]]:
    return {d.stack: (d.action, d.reason) for d in decide(live.outdir, saved, live.terraform, context)}


def test_each_saved_plan_carries_what_proves_it_still_applies(live: Live, tmp_path: Path) -> None:
    change(live, own="b")
    save_plans(live, tmp_path, stacks=("down",))
    meta = json.loads((tmp_path / "down" / "meta.json").read_text())
    assert {k: meta[k] for k in ("stack", "head_sha", "tree", "pipeline_env", "changes", "changed_outputs")} == {
        "stack": "down",
        "head_sha": CONTEXT.head_sha,
        "tree": CONTEXT.tree,
        "pipeline_env": "prod",
        "changes": True,
        "changed_outputs": [],
    }
    assert meta["lineage"] and meta["serial"] > 0 and len(meta["synth_digest"]) == 64
    assert {p.name for p in (tmp_path / "down").iterdir()} == {
        "plan.tfplan",
        "plan.json",
        "plan.txt",
        "meta.json",
        "terraform.lock.hcl",
    }


def test_unchanged_tree_and_state_apply_exactly_the_saved_plans(live: Live, tmp_path: Path) -> None:
    change(live, own="c")
    save_plans(live, tmp_path)
    assert decisions(live, tmp_path) == {
        "up": (APPLY_SAVED, "reviewed plan still applies: same tree, environment, synth and state"),
        "down": (APPLY_SAVED, "reviewed plan still applies: same tree, environment, synth and state"),
    }
    applied = apply_plans(live.terraform, live.outdir, tmp_path, ["up", "down"], CONTEXT, applied_to=tmp_path / "out")
    assert applied.stacks == ["up", "down"] and applied.replanned == []
    assert parameter(live, "/down/own") == "c"
    assert (tmp_path / "out" / "down" / "plan.json").is_file()


def test_a_state_changed_since_review_is_replanned_with_its_downstream_and_terraform_refuses_it_too(
    live: Live, tmp_path: Path
) -> None:
    change(live, own="d")
    save_plans(live, tmp_path)
    change(live, up="v1-hotfix", own="d")
    live.apply("up")  # someone applies `up` after the review: its state moves on
    change(live, own="d")  # the reviewed configuration again: only the state differs
    found = decisions(live, tmp_path)
    assert found["up"][0] == REPLAN and found["up"][1].startswith("its state changed since the review (serial ")
    assert found["down"] == (REPLAN, "it reads up, which is re-planned")
    with pytest.raises(SavedPlanError, match="Saved plan is stale"):
        live.terraform.run(
            ["apply", "-input=false", "-no-color", str((tmp_path / "up" / "plan.tfplan").resolve())],
            live.stack_dir("up"),
        )
    with pytest.raises(SavedPlanError, match="up: its state changed since the plan"):
        apply_plans(live.terraform, live.outdir, tmp_path, ["up"], CONTEXT)


def test_a_plan_file_that_is_not_the_reviewed_one_is_refused(live: Live, tmp_path: Path) -> None:
    change(live, own="x")
    save_plans(live, tmp_path / "reviewed", stacks=("down",))
    change(live, own="y")
    save_plans(live, tmp_path / "other", stacks=("down",))
    swapped = tmp_path / "reviewed" / "down" / "plan.tfplan"
    swapped.write_bytes((tmp_path / "other" / "down" / "plan.tfplan").read_bytes())
    change(live, own="x")
    with pytest.raises(SavedPlanError, match="the plan file is not the plan that was reviewed"):
        apply_plans(live.terraform, live.outdir, tmp_path / "reviewed", ["down"], CONTEXT)
    assert parameter(live, "/down/own") == "a"


def test_another_tree_environment_or_synth_means_replanning_every_stack(live: Live, tmp_path: Path) -> None:
    change(live, own="e")
    save_plans(live, tmp_path)
    moved = decisions(live, tmp_path, PlanContext(CONTEXT.head_sha, "c" * 40, CONTEXT.pipeline_env))
    assert moved["up"] == (REPLAN, f"the merged tree {'c' * 12} is not the reviewed tree {'b' * 12} (main moved on)")
    assert (
        decisions(live, tmp_path, PlanContext(CONTEXT.head_sha, CONTEXT.tree, "dev"))["up"][1]
        == "reviewed for environment 'prod', deploying 'dev'"
    )
    change(live, own="f")  # the synthesized stack differs from the reviewed one
    assert decisions(live, tmp_path)["down"] == (REPLAN, "the synthesized stack differs from the reviewed one")
    assert decisions(live, tmp_path / "missing")["up"][1].startswith("no saved plan from the pull request")


def test_a_stack_whose_upstream_changes_outputs_is_not_applied_from_its_saved_plan(live: Live, tmp_path: Path) -> None:
    change(live, up="v2", own="g")
    save_plans(live, tmp_path)
    found = decisions(live, tmp_path)
    assert found["up"][0] == APPLY_SAVED
    assert found["down"] == (REPLAN, "it reads up's version, which its reviewed plan changes")
    with pytest.raises(
        SavedPlanError, match=r"down: up changed outputs it reads, so its plan is stale \(up: version\)"
    ):
        apply_plans(live.terraform, live.outdir, tmp_path, ["up", "down"], CONTEXT)
    assert parameter(live, "/up/version") == "v2"  # up was applied, down was not
    assert parameter(live, "/down/own") != "g"


def test_an_approved_plan_replanned_after_its_upstream_changed_applies_only_if_it_makes_the_same_changes(
    live: Live, tmp_path: Path
) -> None:
    # approved: down updates `pinned` (a new suffix); after up's new output it still updates `pinned` only
    change(live, up="v3", suffix="pinned-2")
    save_plans(live, tmp_path / "same")
    applied = apply_plans(
        live.terraform, live.outdir, tmp_path / "same", ["up", "down"], CONTEXT, replan_if_upstream_changed=True
    )
    assert applied.replanned == ["down"] and parameter(live, "/down/pinned") == "v3-pinned-2"
    # approved: down changes nothing; after up's new output it would update `pinned`: not what was approved
    change(live, up="v4", suffix="pinned-2")
    save_plans(live, tmp_path / "different")
    approved = fingerprint(json.loads((tmp_path / "different" / "down" / "plan.json").read_text()))
    assert approved == []
    with pytest.raises(
        SavedPlanError,
        match="down: after up changed its outputs, the new plan makes different changes than the approved one",
    ):
        apply_plans(
            live.terraform,
            live.outdir,
            tmp_path / "different",
            ["up", "down"],
            CONTEXT,
            replan_if_upstream_changed=True,
        )
    assert parameter(live, "/down/pinned") == "v3-pinned-2"


def checkout(folder: Path) -> Path:
    """A repository of one commit: the CLI reads the tree and head commit of the folder it runs in, and the
    project's own checkout may move while the tests run (a commit made meanwhile would read as "main moved on")."""
    folder.mkdir()
    for args in (
        ["init", "-q"],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "reviewed"],
    ):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)
    return folder


def test_the_cli_writes_the_decisions_for_the_workflow(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(checkout(tmp_path / "checkout"))
    change(live, own="h")
    assert (
        main(
            [
                "plan",
                "--outdir",
                str(live.outdir),
                "--stack",
                "up",
                "down",
                "--to",
                str(tmp_path / "saved"),
                "--pipeline-env",
                "prod",
            ],
            tf=live.terraform,
        )
        == 0
    )
    output = tmp_path / "github-output"
    assert (
        main(
            [
                "decide",
                "--outdir",
                str(live.outdir),
                "--saved",
                str(tmp_path / "saved"),
                "--pipeline-env",
                "prod",
                "--github-output",
                str(output),
            ],
            tf=live.terraform,
        )
        == 0
    )
    assert output.read_text() == "apply-saved=up down\nreplan=\n"
    assert "| `down` | apply-saved |" in capsys.readouterr().out
    assert (
        main(["plan", "--outdir", str(live.outdir), "--stack", "state", "--to", str(tmp_path / "x")], tf=live.terraform)
        == 1
    )  # the bootstrap is never planned by CI
