"""The plan review, checked against real plans made by Terraform and the AWS provider on the emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.tools import real_plans as scenario
from tests.tools.review_runs import run, run_json
from tools.plan_review.cli import EXIT_OK, EXIT_STATEFUL_DESTRUCTION
from tools.plan_review.render_markdown import COMMENT_MARKER

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]

review = run


def review_json(capsys: pytest.CaptureFixture[str], *plans: str | Path) -> dict[str, dict]:
    return {stack["stack"]: stack for stack in run_json(capsys, *plans)["stacks"]}


def counts(stack: dict) -> dict[str, int]:
    return {column: stack[column] for column in scenario.STORAGE_EXPECTED}


def test_each_stack_gets_its_counts_and_a_replacement_counts_once_under_replace(
    capsys: pytest.CaptureFixture[str], storage_plan: Path, messaging_plan: Path
) -> None:
    stacks = review_json(capsys, storage_plan, messaging_plan)
    assert counts(stacks["storage"]) == scenario.STORAGE_EXPECTED
    assert counts(stacks["messaging"]) == dict.fromkeys(scenario.STORAGE_EXPECTED, 0)


def test_the_real_plan_spells_a_replacement_as_delete_and_create_which_terraform_would_count_twice(
    storage_plan: Path,
) -> None:
    changes = {rc["address"]: rc for rc in json.loads(storage_plan.read_text())["resource_changes"]}
    assert changes[scenario.REPLACED_BUCKET]["change"]["actions"] == ["delete", "create"]
    assert changes[scenario.IMPORTED_BUCKET]["change"]["actions"] == ["no-op"]
    assert changes[scenario.MOVED_ROLE]["change"]["actions"] == ["no-op"]
    assert changes[scenario.FORGOTTEN_ROLE]["change"]["actions"] == ["forget"]


def test_json_lists_destroyed_or_replaced_addresses_and_their_stateful_subset(
    capsys: pytest.CaptureFixture[str], storage_plan: Path
) -> None:
    storage = review_json(capsys, storage_plan)["storage"]
    assert sorted(storage["destructive"]) == sorted(
        [scenario.REPLACED_BUCKET, scenario.DELETED_TOPIC, scenario.DELETED_SUBSCRIPTION, scenario.DELETED_ROLE]
    )
    assert sorted(storage["stateful_destructive"]) == sorted([scenario.REPLACED_BUCKET, scenario.DELETED_TOPIC])


def test_the_stack_is_named_by_the_plans_folder_or_by_a_stack_assignment(
    capsys: pytest.CaptureFixture[str], storage_plan: Path
) -> None:
    assert set(review_json(capsys, storage_plan)) == {"storage"}
    assert set(review_json(capsys, f"blue-green={storage_plan}")) == {"blue-green"}


def test_the_comment_starts_with_the_hidden_marker_and_a_warning_naming_each_destroyed_resource(
    capsys: pytest.CaptureFixture[str], storage_plan: Path, messaging_plan: Path
) -> None:
    code, markdown, _ = review(capsys, storage_plan, messaging_plan)
    assert code == EXIT_OK
    assert markdown.startswith(COMMENT_MARKER + "\n")
    warning = markdown[: markdown.index("| Stack |")]
    assert "[!CAUTION]" in warning
    assert "**4 resources would be destroyed or replaced**, **2 stateful**" in warning
    bucket_line = next(line for line in warning.splitlines() if f"`{scenario.REPLACED_BUCKET}`" in line)
    assert "**replace**" in bucket_line and "**stateful**" in bucket_line
    assert "forced by `bucket`" in bucket_line and "replace_because_cannot_update" in bucket_line
    topic_line = next(line for line in warning.splitlines() if f"`{scenario.DELETED_TOPIC}`" in line)
    assert "SNS topic with subscriptions" in topic_line and "delete_because_no_resource_config" in topic_line
    role_line = next(line for line in warning.splitlines() if f"`{scenario.DELETED_ROLE}`" in line)
    assert "stateful" not in role_line


def test_the_summary_table_has_one_row_per_stack_in_the_documented_column_order(
    capsys: pytest.CaptureFixture[str], storage_plan: Path, messaging_plan: Path
) -> None:
    _, markdown, _ = review(capsys, storage_plan, messaging_plan)
    assert "| Stack | Add | Change | Replace | Destroy | Import | Move | Forget |" in markdown
    assert "| `storage` | 1 | 3 | **1** | **3** | 1 | 1 | 1 |" in markdown
    assert "| `messaging` | 0 | 0 | 0 | 0 | 0 | 0 | 0 |" in markdown


def test_details_show_moves_imports_forgets_and_the_attributes_an_update_changes(
    capsys: pytest.CaptureFixture[str], storage_plan: Path
) -> None:
    _, markdown, _ = review(capsys, storage_plan)
    assert f"`→` move `{scenario.MOVED_ROLE}` — moved from `{scenario.MOVED_ROLE_FROM}`" in markdown
    assert f"`←` import `{scenario.IMPORTED_BUCKET}` — imported from id" in markdown
    assert f"`.` forget `{scenario.FORGOTTEN_ROLE}` — removed from state" in markdown
    assert f"`+` add `{scenario.CREATED_TOPIC}`" in markdown
    assert '`display_name`: `"requests v1"` → `"requests v2"`' in markdown
    assert "(forces replacement)" in markdown


def test_sensitive_values_never_reach_the_review_but_their_change_is_shown(
    capsys: pytest.CaptureFixture[str], storage_plan: Path
) -> None:
    assert scenario.SECRET_AFTER in storage_plan.read_text()  # the plan itself does hold the secret
    _, markdown, _ = review(capsys, storage_plan)
    _, as_json, _ = review(capsys, "--format", "json", storage_plan)
    for text in (markdown, as_json):
        assert scenario.SECRET_BEFORE not in text and scenario.SECRET_AFTER not in text
    parameter = markdown[markdown.index(f"`{scenario.SENSITIVE_PARAMETER}`") :]
    assert "`value`: `(sensitive value)` → `(sensitive value)`" in parameter
    assert "| `api_token` | change | `(sensitive value)` | `(sensitive value)` |" in markdown


def test_output_changes_are_listed_with_their_action(capsys: pytest.CaptureFixture[str], storage_plan: Path) -> None:
    _, markdown, _ = review(capsys, storage_plan)
    assert re.search(
        r"\| `artifact_bucket` \| change \| `\"review-storage-artifacts-v1\"` \| "
        r"`\"review-storage-artifacts-v2\"` \|",
        markdown,
    )
    assert '| `notifications_topic` | add | `(none)` | `"review-storage-notifications"` |' in markdown
    assert '| `legacy_role` | destroy | `"review-storage-legacy"` | `(none)` |' in markdown


def test_drift_nothing_in_this_plan_depends_on_is_not_shown_as_terraform_does_not_show_it(
    capsys: pytest.CaptureFixture[str], storage_plan: Path
) -> None:
    drift_entries = json.loads(storage_plan.read_text())["resource_drift"]
    assert any(entry["address"] == scenario.UPDATED_LOG_GROUP for entry in drift_entries)  # changed out of band
    assert "Objects have changed outside of Terraform" not in storage_plan.with_suffix(".txt").read_text()
    _, markdown, _ = review(capsys, storage_plan)
    assert "Drift in storage" not in markdown


def test_fail_on_destroy_exits_3_when_a_stateful_resource_goes_and_still_prints_the_review(
    capsys: pytest.CaptureFixture[str], storage_plan: Path, messaging_plan: Path
) -> None:
    code, markdown, err = review(capsys, "--fail-on-destroy", storage_plan, messaging_plan)
    assert code == EXIT_STATEFUL_DESTRUCTION
    assert markdown.startswith(COMMENT_MARKER)
    assert f"storage:{scenario.REPLACED_BUCKET}" in err


def test_fail_on_destroy_exits_0_when_nothing_stateful_goes(
    capsys: pytest.CaptureFixture[str], messaging_plan: Path
) -> None:
    assert review(capsys, "--fail-on-destroy", messaging_plan)[0] == EXIT_OK


def test_the_review_can_be_written_to_a_file(
    capsys: pytest.CaptureFixture[str], storage_plan: Path, tmp_path: Path
) -> None:
    target = tmp_path / "review.md"
    code, out, _ = review(capsys, "--output", target, storage_plan)
    assert (code, out) == (EXIT_OK, "")
    assert target.read_text().startswith(COMMENT_MARKER)


def test_the_documented_example_review_is_exactly_what_the_review_prints_for_the_fixtures_plans(
    capsys: pytest.CaptureFixture[str], serving_plan: Path, edge_plan: Path
) -> None:
    page = (PROJECT_ROOT / "docs" / "ci-cd.md").read_text()  # "What a review looks like"
    example = page.split("\n~~~markdown\n", 1)[1].split("\n~~~\n", 1)[0]
    code, markdown, _ = review(capsys, "--fail-on-destroy", "--fail-on-cost-increase", "100", serving_plan, edge_plan)
    assert code == EXIT_STATEFUL_DESTRUCTION
    # Terraform draws a deposed object's key at random: the page keeps the key of the run it was copied from.
    (deposed,) = review_json(capsys, edge_plan)["edge"]["deposed"]
    match = re.search(r"deposed object `([0-9a-f]{8})`", example)
    assert match, "the example review in docs/ci-cd.md shows the deposed bucket"
    assert markdown.replace(deposed["deposed"], match.group(1)).rstrip("\n") == example.rstrip("\n"), (
        "docs/ci-cd.md's example review is out of date: replace it with this output of the fixture's plans"
    )
