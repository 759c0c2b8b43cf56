"""`python -m tools.access_check`: exit 0 when every call is allowed, 1 with one line per denial, 2 with one line
when the input cannot be read or the evaluator cannot run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.access.mutations import edit_policy, inventory_of, without_service_principal
from tests.access.test_resolve import write_stacks
from tools.access_check import evaluate
from tools.access_check.cli import main
from tools.access_check.report import render_json, render_markdown

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOG_GROUP = "/aws/lambda/demo"


def one_function_stack(tmp_path: Path) -> Path:
    """A function whose role allows exactly what Lambda does for it: assume the role, write its logs."""
    stack = {
        "data": {
            "aws_iam_policy_document": {
                "logs": {
                    "statement": [
                        {
                            "sid": "OwnLogGroupOnly",
                            "actions": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "resources": ["${aws_cloudwatch_log_group.logs.arn}:*"],
                        }
                    ]
                }
            }
        },
        "resource": {
            "aws_cloudwatch_log_group": {"logs": {"name": LOG_GROUP}},
            "aws_iam_role": {
                "role": {
                    "name": "demo",
                    "assume_role_policy": json.dumps(
                        {
                            "Statement": [
                                {
                                    "Sid": "LambdaAssumes",
                                    "Effect": "Allow",
                                    "Action": "sts:AssumeRole",
                                    "Principal": {"Service": "lambda.amazonaws.com"},
                                }
                            ]
                        }
                    ),
                }
            },
            "aws_iam_role_policy": {
                "policy": {"role": "${aws_iam_role.role.id}", "policy": "${data.aws_iam_policy_document.logs.json}"}
            },
            # the status handler, without the variable its calls need: Lambda's own calls only
            "aws_lambda_function": {
                "demo": {
                    "function_name": "demo",
                    "handler": "lambdas.status.handler.handler",
                    "role": "${aws_iam_role.role.arn}",
                }
            },
        },
    }
    return write_stacks(tmp_path, {"compute": stack})


def test_everything_allowed_exits_0_with_counts_for_scripts(evaluator, tmp_path: Path, capsys) -> None:
    code = main(["--stacks", str(one_function_stack(tmp_path)), "--format", "json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["counts"]["denied"] == 0 and report["counts"]["unused_grants"] == 0
    assert report["counts"]["requests_evaluated"] == 3, "assume the role, create the stream, put the events"
    assert {d["decided_by"][0]["statementId"] for d in report["allowed"]} == {"LambdaAssumes", "OwnLogGroupOnly"}


def test_a_denial_exits_1_with_one_line_naming_principal_action_resource_and_reason(
    evaluator, stacks_copy, capsys
) -> None:
    copy = stacks_copy("dev")
    inventory = inventory_of(copy)
    queues = [(q, "policy") for q in inventory.blocks("aws_sqs_queue") if "policy" in q.body]
    queues += [(p, "policy") for p in inventory.blocks("aws_sqs_queue_policy")]
    for block, argument in queues:
        edit_policy(copy, block, argument, without_service_principal("sns.amazonaws.com"))

    code = main(["--stacks", str(copy.root)])

    denied = [line for line in capsys.readouterr().err.splitlines() if "sns.amazonaws.com sqs:SendMessage" in line]
    assert code == 1
    assert denied and all(
        line.startswith("access_check: DENIED sns.amazonaws.com sqs:SendMessage arn:aws:sqs:")
        and "implicitly denied" in line
        for line in denied
    )


def test_a_folder_without_stacks_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tools.access_check", "--stacks", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )

    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and "no such folder" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_unreadable_json_exits_2_naming_the_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "compute").mkdir()
    (tmp_path / "compute" / "cdk.tf.json").write_text("{not json")

    assert main(["--stacks", str(tmp_path)]) == 2
    assert "compute/cdk.tf.json: not readable JSON" in capsys.readouterr().err


def test_the_default_folder_must_hold_the_stacks_of_pipeline_env(tmp_path: Path, monkeypatch, capsys) -> None:
    stacks = one_function_stack(tmp_path / "stacks")
    document = json.loads((stacks / "compute" / "cdk.tf.json").read_text())
    document["provider"]["aws"][0]["default_tags"] = [{"tags": {"environment": "dev"}}]
    (stacks / "compute" / "cdk.tf.json").write_text(json.dumps(document))
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path))
    monkeypatch.setenv("PIPELINE_ENV", "prod")

    assert main([]) == 2
    assert "holds the dev stacks, not PIPELINE_ENV=prod" in capsys.readouterr().err


def test_without_node_the_gate_exits_2_and_says_what_is_missing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(evaluate.shutil, "which", lambda name: None)

    assert main(["--stacks", str(one_function_stack(tmp_path))]) == 2
    assert "needs Node.js" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_both_formats_render_the_real_environment(gate, fmt: str) -> None:
    text = (render_json if fmt == "json" else render_markdown)(gate["prod"])

    assert "inference-prod-worker-lambda" in text
    if fmt == "json":
        assert set(json.loads(text)["counts"]) >= {
            "principals",
            "recorded_calls",
            "declared_calls",
            "statements_evaluated",
            "unused_grants",
        }
    else:
        assert "## Allowed, per principal" in text and "## Unused grants" in text
