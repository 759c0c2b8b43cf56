"""IAM changes in the review, on real plans: statement-level differences, widening highlighted, `iam_changes[]`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tools import real_plans as scenario
from tests.tools.review_runs import run, run_json
from tools.plan_review.cli import EXIT_OK
from tools.plan_review.iam import diff_policies, parse_policy

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]


def review(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[str, dict]:
    code, markdown, err = run(capsys, *args)
    assert code == EXIT_OK, err
    return markdown, run_json(capsys, *args)


def iam_changes(document: dict, stack: str = "serving") -> dict[str, dict]:
    return {c["address"]: c for s in document["stacks"] if s["stack"] == stack for c in s["iam_changes"]}


def widening(change: dict) -> list[tuple[str, str]]:
    return [(w["kind"], w["detail"]) for w in change["widening"]]


def test_the_real_plan_shows_each_policy_as_one_json_string_on_each_side(serving_plan: Path) -> None:
    changes = {rc["address"]: rc for rc in json.loads(serving_plan.read_text())["resource_changes"]}
    change = changes[scenario.WIDENED_POLICY]["change"]
    assert isinstance(change["before"]["policy"], str) and isinstance(change["after"]["policy"], str)


def test_a_policy_that_gains_a_wildcard_shows_the_statement_and_is_flagged_as_widening(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    markdown, document = review(capsys, serving_plan)
    change = iam_changes(document)[scenario.WIDENED_POLICY]
    assert change["kind"] == "identity" and change["action"] == "update" and change["widens_access"] is True
    read_models = next(s for s in change["statements"] if s["label"] == "`ReadModels`")
    assert read_models["status"] == "changed" and read_models["added"] == {"actions": ["s3:*"]}
    assert read_models["removed"] == {}
    added = next(s for s in change["statements"] if s["label"] == "`WriteLogs`")
    assert added["status"] == "added" and added["added"]["actions"] == ["logs:PutLogEvents"]
    assert ("wildcard_action", "new wildcard action `s3:*` (every s3 action)") in widening(change)
    assert "statement `ReadModels` (Allow): actions added: `s3:*`" in markdown
    assert "⚠️ widens access: new wildcard action `s3:*`" in markdown


def test_a_trust_policy_that_gains_principals_names_each_as_a_new_principal(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    markdown, document = review(capsys, serving_plan)
    change = iam_changes(document)[scenario.TRUSTING_ROLE]
    assert change["kind"] == "trust" and change["attribute"] == "assume_role_policy"
    (statement,) = change["statements"]
    assert statement["added"] == {
        "principals": [f"AWS:{scenario.NEW_TRUSTED_ACCOUNT}", f"Service:{scenario.NEW_TRUSTED_SERVICE}"]
    }
    assert {kind for kind, _ in widening(change)} == {"new_principal"}
    assert f"new principal `Service:{scenario.NEW_TRUSTED_SERVICE}`" in markdown
    warning = markdown[markdown.index("grants widen access") :]
    assert f"`{scenario.TRUSTING_ROLE}` in `serving` (trust policy)" in warning


def test_a_resource_policy_that_drops_a_condition_is_flagged(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    _, document = review(capsys, serving_plan)
    change = iam_changes(document)[scenario.LOOSENED_TOPIC_POLICY]
    assert change["kind"] == "topic"
    (statement,) = change["statements"]
    assert statement["conditions_removed"] == [f"StringEquals aws:SourceAccount = {scenario.ACCOUNT}"]
    assert widening(change) == [
        ("condition_dropped", f"condition dropped: `StringEquals aws:SourceAccount = {scenario.ACCOUNT}`")
    ]


def test_a_policy_terraform_masks_is_reported_as_sensitive_never_guessed(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    plan = json.loads(serving_plan.read_text())
    masked = next(rc for rc in plan["resource_changes"] if rc["address"] == scenario.MASKED_POLICY)
    assert masked["change"]["after_sensitive"]["policy"] is True  # Terraform itself masks it
    markdown, document = review(capsys, serving_plan)
    change = iam_changes(document)[scenario.MASKED_POLICY]
    assert change["statements"] == [] and change["unavailable"].startswith("(sensitive value)")
    assert f"`{scenario.MASKED_POLICY}` in `serving` — identity policy (`policy`): (sensitive value)" in markdown
    assert "tenant-b" not in markdown and "tenant-b" not in json.dumps(document)


def test_the_per_resource_list_points_policy_attributes_to_the_iam_section(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    markdown, _ = review(capsys, serving_plan)
    details = markdown[markdown.index("### serving") :]
    assert "`assume_role_policy`: statement by statement under IAM changes" in details
    assert "Statement" not in details


def test_a_computed_policy_of_a_destroyed_key_is_not_an_iam_change(
    capsys: pytest.CaptureFixture[str], edge_plan: Path
) -> None:
    _, document = review(capsys, edge_plan)
    assert iam_changes(document, "edge") == {}


@pytest.mark.parametrize(
    ("before", "after", "kinds"),
    [
        (
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
                "Principal": {"AWS": "111111111111"},
            },
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Principal": "*"},
            {"public_principal"},
        ),
        (
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            None,
            {"deny_removed"},
        ),
        (
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": "*",
                "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:1:a"}},
            },
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": "*",
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": ["arn:aws:sns:eu-west-1:1:a", "arn:aws:sns:eu-west-1:1:b"]}
                },
            },
            {"condition_widened"},
        ),
        (
            {"Effect": "Allow", "Action": "SNS:Publish", "Resource": "x", "Principal": {"AWS": "arn:aws:iam::1:root"}},
            {
                "Effect": "Allow",
                "Action": ["sns:publish"],
                "Resource": ["x"],
                "Principal": {"AWS": ["arn:aws:iam::1:root"]},
            },
            set(),
        ),
    ],
)
def test_policy_comparison_follows_iams_reading(before: dict, after: dict | None, kinds: set[str]) -> None:
    """Spellings IAM treats alike are no change; anyone, a removed Deny and a widened condition are widening."""
    wrap = lambda statement: json.dumps({"Statement": [statement] if statement else []})  # noqa: E731
    diffs, found = diff_policies(parse_policy(wrap(before)), parse_policy(wrap(after)), resource_policy=True)
    assert {w.kind for w in found} == kinds
    assert bool(diffs) == bool(kinds)
