"""The plan review's edges: unreadable or unsupported inputs, and plans too big for one GitHub comment."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.tools import real_plans as scenario
from tools.plan_review.classify import Kind, kind_of
from tools.plan_review.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_STATEFUL_DESTRUCTION, main
from tools.plan_review.fit import GITHUB_COMMENT_LIMIT, comment_length
from tools.plan_review.render_markdown import COMMENT_MARKER

PROJECT_ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.terraform, pytest.mark.emulator]  # the inputs derive from real plans


def write_plan(folder: Path, stack: str, document: Any) -> Path:
    path = folder / stack / "plan.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def real_document(plan: Path) -> dict[str, Any]:
    return json.loads(plan.read_text())


def exit_code_and_error(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    code = main([str(arg) for arg in args])
    return code, capsys.readouterr().err


def test_a_file_that_is_not_json_exits_2_with_one_line_naming_it_and_no_traceback(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "network", "Terraform will perform the following actions:\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tools.plan_review", str(plan)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == EXIT_BAD_INPUT
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and str(plan) in proc.stderr and "not JSON" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = exit_code_and_error(capsys, tmp_path / "absent" / "plan.json")
    assert code == EXIT_BAD_INPUT and "cannot read" in err


@pytest.mark.parametrize(
    "document",
    [[], {"resource_changes": []}, {"format_version": 1.2}],
    ids=["a list", "no format_version", "a numeric format_version"],
)
def test_json_that_is_not_shaped_like_a_plan_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: Any
) -> None:
    code, err = exit_code_and_error(capsys, write_plan(tmp_path, "api", document))
    assert code == EXIT_BAD_INPUT and "plan.json" in err


def test_a_state_file_is_refused_with_a_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, storage_plan: Path
) -> None:
    state = real_document(storage_plan)["prior_state"]  # Terraform's JSON state representation
    code, err = exit_code_and_error(capsys, write_plan(tmp_path, "storage", state))
    assert code == EXIT_BAD_INPUT and "state file" in err


def test_a_resource_change_without_actions_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, storage_plan: Path
) -> None:
    document = real_document(storage_plan)
    del document["resource_changes"][0]["change"]["actions"]
    code, err = exit_code_and_error(capsys, write_plan(tmp_path, "storage", document))
    assert code == EXIT_BAD_INPUT and "resource_changes[0]" in err


def test_an_unknown_major_format_version_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, storage_plan: Path
) -> None:
    document = real_document(storage_plan) | {"format_version": "2.0"}
    code, err = exit_code_and_error(capsys, write_plan(tmp_path, "storage", document))
    assert code == EXIT_BAD_INPUT and "unsupported plan format_version '2.0'" in err


def test_a_newer_minor_format_version_is_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, storage_plan: Path
) -> None:
    document = real_document(storage_plan) | {"format_version": "1.99", "a_future_field": {"x": 1}}
    assert main([str(write_plan(tmp_path, "storage", document))]) == EXIT_OK
    capsys.readouterr()


def multiplied(document: dict[str, Any], copies: int) -> dict[str, Any]:
    """The real plan with every resource change repeated COPIES times under new names (a huge, valid plan)."""
    big = copy.deepcopy(document)
    changes = []
    for index in range(copies):
        for change in document["resource_changes"]:
            clone = copy.deepcopy(change)
            clone["name"] = f"{change['name']}_{index}"
            clone["address"] = f"{change['type']}.{clone['name']}"
            if clone.get("previous_address"):
                clone["previous_address"] = f"{clone['previous_address']}_{index}"
            changes.append(clone)
    big["resource_changes"] = changes
    return big


def test_a_huge_plan_is_truncated_under_githubs_limit_with_an_explicit_notice_and_exact_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, storage_plan: Path
) -> None:
    copies = 300
    plan = write_plan(tmp_path, "storage", multiplied(real_document(storage_plan), copies))
    assert main([str(plan)]) == EXIT_OK
    markdown = capsys.readouterr().out
    assert comment_length(markdown) <= GITHUB_COMMENT_LIMIT
    assert markdown.startswith(COMMENT_MARKER)
    assert "This review was truncated to stay under its 65,536-character limit (GitHub's comment limit)" in markdown
    expected = {column: count * copies for column, count in scenario.STORAGE_EXPECTED.items()}
    row = " | ".join(
        str(expected[c]) if not expected[c] or c not in ("replace", "destroy") else f"**{expected[c]}**"
        for c in ("add", "change", "replace", "destroy", "import", "move", "forget")
    )
    assert f"| `storage` | {row} |" in markdown
    assert f"**{4 * copies} resources would be destroyed or replaced**" in markdown
    assert markdown.count("<details>") == markdown.count("</details>")


def test_a_huge_plan_with_its_gates_still_fits_and_names_the_first_stateful_resources_in_the_verdict(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, storage_plan: Path
) -> None:
    plan = write_plan(tmp_path, "storage", multiplied(real_document(storage_plan), 300))
    assert main(["--fail-on-destroy", "--fail-on-cost-increase", "0", str(plan)]) == EXIT_STATEFUL_DESTRUCTION
    markdown = capsys.readouterr().out
    assert comment_length(markdown) <= GITHUB_COMMENT_LIMIT
    verdict = next(line for line in markdown.splitlines() if "stateful destruction: blocked" in line)
    assert verdict.count("storage:") == 10 and "and 590 more" in verdict


def test_a_smaller_limit_is_honoured_too(capsys: pytest.CaptureFixture[str], storage_plan: Path) -> None:
    assert main(["--max-chars", "2500", str(storage_plan)]) == EXIT_OK
    markdown = capsys.readouterr().out
    assert comment_length(markdown) <= 2500
    assert "truncated" in markdown and "| `storage` |" in markdown


def test_a_plan_that_fits_is_not_marked_truncated(capsys: pytest.CaptureFixture[str], storage_plan: Path) -> None:
    assert main([str(storage_plan)]) == EXIT_OK
    assert "truncated" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("actions", "kind"),
    [
        (["create"], Kind.ADD),
        (["update"], Kind.CHANGE),
        (["delete"], Kind.DESTROY),
        (["delete", "create"], Kind.REPLACE),
        (["create", "delete"], Kind.REPLACE),
        (["create", "forget"], Kind.REPLACE),
        (["forget"], Kind.FORGET),
        (["read"], Kind.READ),
        (["no-op"], Kind.NO_OP),
        (["a-future-action"], Kind.NO_OP),
    ],
)
def test_every_terraform_action_list_maps_to_one_kind(actions: list[str], kind: Kind) -> None:
    assert kind_of(actions) is kind
