"""Where the review must say exactly what Terraform says: drift, refresh-only plans, deposed objects, whitespace,
the size limit, stack names and the inputs it refuses. Terraform's own rendering of each plan file
(`terraform show`, saved as `<plan>.txt` beside the JSON) is the reference."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.tools import real_plans as scenario
from tests.tools.review_runs import run, run_json
from tools.plan_review.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_STATEFUL_DESTRUCTION
from tools.plan_review.fit import comment_length
from tools.plan_review.render_markdown import COMMENT_MARKER

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]

_DRIFT_HEADER = re.compile(
    r"^  # (?P<address>\S+)(?: \(deposed object \S+\))? (?:has changed|has been deleted|has moved to (?P<to>\S+))$"
)


def terraform_drift(plan_json: Path) -> list[str]:
    """The addresses under Terraform's "Objects have changed outside of Terraform", in its order (a moved object
    under its new address: Terraform prints "<old> has moved to <new>")."""
    text = plan_json.with_suffix(".txt").read_text()
    if "Objects have changed outside of Terraform" not in text:
        return []
    section = text.split("Objects have changed outside of Terraform", 1)[1]
    section = re.split(r"\nUnless you have made equivalent changes|\nThis is a refresh-only plan", section)[0]
    return [m["to"] or m["address"] for line in section.splitlines() if (m := _DRIFT_HEADER.match(line))]


@pytest.mark.parametrize("plan_name", ["noop", "plan", "refresh"])
def test_the_drift_the_review_lists_is_the_drift_terraform_reports(
    capsys: pytest.CaptureFixture[str], drift_plans: dict[str, Path], plan_name: str
) -> None:
    plan = drift_plans[plan_name]
    (stack,) = run_json(capsys, f"drift={plan}")["stacks"]
    assert [item["address"] for item in stack["drift"]] == terraform_drift(plan)


def test_the_fixture_has_drift_terraform_hides_and_drift_it_shows(drift_plans: dict[str, Path]) -> None:
    """What the test above proves is not vacuous: each plan's JSON lists more drift than Terraform reports."""
    listed = {
        name: [e["address"] for e in json.loads(path.read_text()).get("resource_drift", [])]
        for name, path in drift_plans.items()
    }
    assert scenario.SELF_MANAGED_TOPIC in listed["noop"]  # its policy, rewritten by aws_sns_topic_policy
    assert terraform_drift(drift_plans["noop"]) == []
    assert (
        "No changes. Your infrastructure matches the configuration."
        in drift_plans["noop"].with_suffix(".txt").read_text()
    )
    assert len(listed["plan"]) > len(terraform_drift(drift_plans["plan"])) == 1
    assert terraform_drift(drift_plans["plan"]) == [scenario.DOOMED_TOPIC]
    assert scenario.DRIFTED_LOG_GROUP in terraform_drift(drift_plans["refresh"])


def test_a_no_op_plan_shows_no_drift_even_for_a_topic_policy_the_configuration_manages(
    capsys: pytest.CaptureFixture[str], drift_plans: dict[str, Path]
) -> None:
    _, markdown, _ = run(capsys, f"drift={drift_plans['noop']}")
    assert "No changes." in markdown and "Drift in" not in markdown and scenario.SELF_MANAGED_TOPIC not in markdown


def test_a_refresh_only_plan_is_identified_and_says_what_applying_it_writes_to_state(
    capsys: pytest.CaptureFixture[str], drift_plans: dict[str, Path]
) -> None:
    plan = drift_plans["refresh"]
    (stack,) = run_json(capsys, f"drift={plan}")["stacks"]
    assert stack["mode"] == "refresh-only" and stack["cost"] is None
    assert sorted(stack["state_writes"]["removed"]) == sorted([scenario.DOOMED_TOPIC, scenario.DOOMED_SUBSCRIPTION])
    assert {scenario.DRIFTED_LOG_GROUP, scenario.DRIFTED_PARAMETER} <= set(stack["state_writes"]["updated"])
    _, markdown, _ = run(capsys, f"drift={plan}")
    assert markdown.startswith(f"{COMMENT_MARKER}\n## Terraform drift review (refresh-only plans")
    assert "Applying this plan changes no infrastructure. It writes to state:" in markdown
    assert (
        f"**2 objects removed from state** (deleted outside Terraform): `{scenario.DOOMED_TOPIC}`, "
        f"`{scenario.DOOMED_SUBSCRIPTION}`"
    ) in markdown
    assert "`retention_in_days`: `7` → `30`" in markdown
    assert "| `drift` | 5 | 2 |" in markdown  # drifted, deleted outside Terraform: Terraform's count


def test_a_refresh_only_plan_reviewed_with_normal_ones_is_marked_in_the_summary(
    capsys: pytest.CaptureFixture[str], drift_plans: dict[str, Path], storage_plan: Path
) -> None:
    _, markdown, _ = run(capsys, storage_plan, f"drift={drift_plans['refresh']}")
    assert "## Terraform plan review" in markdown and "| `drift` (refresh-only) |" in markdown


def test_a_deposed_object_is_marked_apart_from_the_current_object(
    capsys: pytest.CaptureFixture[str], edge_plan: Path
) -> None:
    plan = json.loads(edge_plan.read_text())
    deposed = [rc for rc in plan["resource_changes"] if rc.get("deposed")]
    assert [(rc["address"], rc["change"]["actions"]) for rc in deposed] == [(scenario.DEPOSED_BUCKET, ["delete"])]
    key = deposed[0]["deposed"]
    (stack,) = run_json(capsys, edge_plan)["stacks"]
    assert stack["deposed"] == [
        {"address": scenario.DEPOSED_BUCKET, "deposed": key, "action": "destroy", "stateful": "S3 bucket: objects"}
    ]
    assert scenario.DEPOSED_BUCKET not in stack["destructive"] + stack["stateful_destructive"]
    _, markdown, _ = run(capsys, edge_plan)
    assert f"- `-` destroy `{scenario.DEPOSED_BUCKET}` (deposed object `{key}`) — a leftover" in markdown
    assert f"**destroy** `{scenario.DEPOSED_BUCKET}` (deposed object `{key}`) in `edge` — 🛑 **stateful**" in markdown
    code, _, err = run(capsys, "--fail-on-destroy", edge_plan)
    assert code == EXIT_STATEFUL_DESTRUCTION and f"edge:{scenario.DEPOSED_BUCKET} (deposed object {key})" in err


def test_a_whitespace_only_json_change_is_labelled_as_terraform_labels_it(
    capsys: pytest.CaptureFixture[str], edge_plan: Path
) -> None:
    assert "# whitespace changes" in edge_plan.with_suffix(".txt").read_text()
    _, markdown, _ = run(capsys, edge_plan)
    settings = markdown[markdown.index(f"`{scenario.JSON_PARAMETER}`") :]
    assert "  - `insecure_value`: jsonencode(…) # whitespace changes\n" in settings


def test_a_long_string_that_changes_near_its_end_shows_where_it_differs(
    capsys: pytest.CaptureFixture[str], edge_plan: Path
) -> None:
    _, markdown, _ = run(capsys, edge_plan)
    banner = markdown[markdown.index(f"`{scenario.TEXT_PARAMETER}`") :]
    line = next(line for line in banner.splitlines() if "`insecure_value`" in line)
    before, after = re.findall(r"`(…[^`]*)`", line)
    assert before != after and "run once" in before and "run  once" in after
    assert line.endswith("(whitespace only)")


@pytest.mark.parametrize("limit", [900, 1500, 4000])
def test_max_chars_keeps_the_marker_and_summary_and_cites_the_limit_in_force(
    capsys: pytest.CaptureFixture[str], serving_plan: Path, edge_plan: Path, limit: int
) -> None:
    code, markdown, _ = run(capsys, "--max-chars", limit, serving_plan, edge_plan)
    assert code == EXIT_OK
    assert comment_length(markdown) <= limit
    assert markdown.startswith(COMMENT_MARKER)
    assert "| `serving` |" in markdown and "| `edge` |" in markdown and "| **total** |" in markdown
    assert f"truncated to stay under its {limit:,}-character limit (`--max-chars`)" in markdown


def test_a_limit_too_small_for_the_summary_exits_2_saying_how_much_it_needs(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    code, out, err = run(capsys, "--max-chars", 200, serving_plan)
    assert (code, out) == (EXIT_BAD_INPUT, "")
    assert "--max-chars: a limit of 200 characters cannot hold the review's marker, title and summary" in err


def test_two_inputs_resolving_to_one_stack_name_exit_2(
    capsys: pytest.CaptureFixture[str], storage_plan: Path, serving_plan: Path, tmp_path: Path
) -> None:
    twin = tmp_path / "storage" / "plan.json"
    twin.parent.mkdir()
    shutil.copy(storage_plan, twin)
    code, out, err = run(capsys, storage_plan, twin)
    assert (code, out) == (EXIT_BAD_INPUT, "")
    assert "both resolve to stack 'storage'" in err and "STACK=PATH" in err
    assert run(capsys, f"x={storage_plan}", f"x={serving_plan}")[0] == EXIT_BAD_INPUT
    assert run(capsys, storage_plan, f"copy={twin}")[0] == EXIT_OK


def test_a_binary_plan_file_gets_a_hint_to_run_terraform_show_json(
    capsys: pytest.CaptureFixture[str], storage_plan: Path
) -> None:
    binary = storage_plan.with_suffix(".tfplan")
    code, out, err = run(capsys, binary)
    assert (code, out) == (EXIT_BAD_INPUT, "")
    assert "a binary plan file, not JSON: review `terraform show -json plan.tfplan > plan.json` instead" in err
