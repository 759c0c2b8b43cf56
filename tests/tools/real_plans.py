"""Real Terraform plans for the plan-review tests: apply a base configuration on the emulator, change it, plan.

Why real plans: the review reads Terraform's JSON plan format, whose details (how a replacement, a move, an
import or a `removed` block is spelled, where sensitivity and drift live) are easy to get wrong by hand. So the
tests never hand-write plan JSON: every plan here comes from `terraform plan -out` + `terraform show -json`
run by the real CLI and the real hashicorp/aws provider against the moto emulator.

Two stacks, planned in parallel:
- `storage` exercises every kind of change: create, in-place update, a replacement forced by a bucket rename,
  a delete (of a topic that has a subscription: stateful), a `moved` block, an `import` block, a `removed`
  block with `destroy = false` (forget), a sensitive value, output changes and drift made out of band;
- `messaging` has nothing to change: an empty stack, never applied (its plan has no `resource_changes` at all).
Only fast resources (S3 buckets, SNS topics, IAM roles, log groups, SSM parameters): no SQS queue, which takes
about 25 s to create through Terraform against moto.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from tools.emulator import provider_settings
from tools.terraform_cli import TerraformToolchain, shared_provider

REGION = "us-east-1"
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
PROVIDER_SCHEMA_FILE = "provider-schema.json"
AWS_PROVIDER_VERSION_CONSTRAINT = ">= 5.0"
FAKE_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:results-subscriber"
ASSUME_ROLE_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}],
})

# What the storage stack's plan must show; the tests compare the review against these.
STORAGE_EXPECTED = {
    "add": 1, "change": 3, "replace": 1, "destroy": 3, "import": 1, "move": 1, "forget": 1,
}
REPLACED_BUCKET = "aws_s3_bucket.artifacts"
DELETED_TOPIC = "aws_sns_topic.results"
DELETED_SUBSCRIPTION = "aws_sns_topic_subscription.results_to_queue"
DELETED_ROLE = "aws_iam_role.legacy"
UPDATED_TOPIC = "aws_sns_topic.requests"
UPDATED_LOG_GROUP = "aws_cloudwatch_log_group.app"
SENSITIVE_PARAMETER = "aws_ssm_parameter.api_token"
CREATED_TOPIC = "aws_sns_topic.notifications"
MOVED_ROLE = "aws_iam_role.worker"
MOVED_ROLE_FROM = "aws_iam_role.queue_worker"
IMPORTED_BUCKET = "aws_s3_bucket.imported"
FORGOTTEN_ROLE = "aws_iam_role.forgotten"
SECRET_BEFORE = "before-secret-value-7f3a"
SECRET_AFTER = "after-secret-value-91c2"


@dataclass(frozen=True)
class StackScenario:
    """One Terraform root module: what to apply first, what to plan after, and what to do out of band."""

    name: str
    base: Callable[[str, str], dict[str, Any]]
    changed: Callable[[str, str], dict[str, Any]]
    before_plan: Callable[[str, str], None] | None = None
    apply_base: bool = True


def _settings(url: str) -> dict[str, Any]:
    return {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws",
                                                     "version": AWS_PROVIDER_VERSION_CONSTRAINT}}},
        "provider": {"aws": {"region": REGION, **provider_settings(url)}},
    }


def _role(name: str) -> dict[str, Any]:
    return {"name": name, "assume_role_policy": ASSUME_ROLE_POLICY}


def storage_base(url: str, prefix: str) -> dict[str, Any]:
    return {
        **_settings(url),
        "resource": {
            "aws_s3_bucket": {
                "artifacts": {"bucket": f"{prefix}-artifacts-v1"},
                "kept": {"bucket": f"{prefix}-kept"},
            },
            "aws_sns_topic": {
                "requests": {"name": f"{prefix}-requests", "display_name": "requests v1"},
                "results": {"name": f"{prefix}-results"},
            },
            "aws_sns_topic_subscription": {
                "results_to_queue": {"topic_arn": "${aws_sns_topic.results.arn}", "protocol": "sqs",
                                     "endpoint": FAKE_QUEUE_ARN},
            },
            "aws_iam_role": {
                "legacy": _role(f"{prefix}-legacy"),
                "queue_worker": _role(f"{prefix}-worker"),
                "forgotten": _role(f"{prefix}-forgotten"),
            },
            "aws_cloudwatch_log_group": {"app": {"name": f"/{prefix}/app", "retention_in_days": 7}},
            "aws_ssm_parameter": {"api_token": {"name": f"/{prefix}/api-token", "type": "SecureString",
                                                "value": SECRET_BEFORE}},
        },
        "output": {
            "artifact_bucket": {"value": "${aws_s3_bucket.artifacts.bucket}"},
            "api_token": {"value": "${aws_ssm_parameter.api_token.value}", "sensitive": True},
            "legacy_role": {"value": "${aws_iam_role.legacy.name}"},
        },
    }


def storage_changed(url: str, prefix: str) -> dict[str, Any]:
    return {
        **_settings(url),
        "resource": {
            "aws_s3_bucket": {
                "artifacts": {"bucket": f"{prefix}-artifacts-v2"},
                "kept": {"bucket": f"{prefix}-kept"},
                "imported": {"bucket": f"{prefix}-imported"},
            },
            "aws_sns_topic": {
                "requests": {"name": f"{prefix}-requests", "display_name": "requests v2"},
                "notifications": {"name": f"{prefix}-notifications"},
            },
            "aws_iam_role": {"worker": _role(f"{prefix}-worker")},
            "aws_cloudwatch_log_group": {"app": {"name": f"/{prefix}/app", "retention_in_days": 14}},
            "aws_ssm_parameter": {"api_token": {"name": f"/{prefix}/api-token", "type": "SecureString",
                                                "value": SECRET_AFTER}},
        },
        "moved": [{"from": MOVED_ROLE_FROM, "to": MOVED_ROLE}],
        "import": [{"to": IMPORTED_BUCKET, "id": f"{prefix}-imported"}],
        "removed": [{"from": FORGOTTEN_ROLE, "lifecycle": [{"destroy": False}]}],
        "output": {
            "artifact_bucket": {"value": "${aws_s3_bucket.artifacts.bucket}"},
            "api_token": {"value": "${aws_ssm_parameter.api_token.value}", "sensitive": True},
            "notifications_topic": {"value": "${aws_sns_topic.notifications.name}"},
        },
    }


def storage_drift_and_import_source(url: str, prefix: str) -> None:
    """Out of band, as a person with console access would: change a retention, create the bucket to import."""
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    session.client("logs", endpoint_url=url).put_retention_policy(logGroupName=f"/{prefix}/app",
                                                                  retentionInDays=30)
    session.client("s3", endpoint_url=url).create_bucket(Bucket=f"{prefix}-imported")


def messaging_empty(url: str, prefix: str) -> dict[str, Any]:
    """The provider and nothing else, planned without an apply: a real no-change plan for two provider
    start-ups (an applied resource would add an apply and a refresh, competing with the storage stack for the
    machine's two cores)."""
    del prefix
    return _settings(url)


SCENARIOS = (
    StackScenario("storage", storage_base, storage_changed, storage_drift_and_import_source),
    StackScenario("messaging", messaging_empty, messaging_empty, apply_base=False),
)


def _write_config(folder: Path, config: dict[str, Any]) -> None:
    (folder / "main.tf.json").write_text(json.dumps(config, indent=2))


def _terraform(terraform: TerraformToolchain, args: list[str], cwd: Path,
               extra_env: dict[str, str] | None = None) -> str:
    try:
        return terraform.run(args, cwd, env={**os.environ, **(extra_env or {})}).stdout
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"terraform {' '.join(args)} failed in {cwd}:\n{exc.stderr}\n{exc.stdout}") from exc


def init_stack(terraform: TerraformToolchain, scenario: StackScenario, work: Path, url: str, prefix: str) -> Path:
    """Write the base configuration and `terraform init` it.

    Stacks are initialised one at a time and retried once: concurrent inits race to create the same folder in
    the shared plugin cache ("mkdir ...: file exists"), whoever else on the machine is running Terraform.
    """
    folder = work / scenario.name
    folder.mkdir(parents=True, exist_ok=True)
    _write_config(folder, scenario.base(url, f"{prefix}-{scenario.name}"))
    try:
        _terraform(terraform, ["init", "-input=false", "-no-color"], folder)
    except AssertionError:
        _terraform(terraform, ["init", "-input=false", "-no-color"], folder)
    return folder


def apply_change_and_plan(terraform: TerraformToolchain, scenario: StackScenario, folder: Path, url: str,
                          prefix: str, extra_env: dict[str, str]) -> Path:
    """Apply the base configuration, change it, plan; return the path of `<folder>/plan.json`."""
    stack_prefix = f"{prefix}-{scenario.name}"
    if scenario.apply_base:
        _terraform(terraform, ["apply", "-auto-approve", "-input=false", "-no-color"], folder, extra_env)
    if scenario.before_plan is not None:
        scenario.before_plan(url, stack_prefix)
    _write_config(folder, scenario.changed(url, stack_prefix))
    _terraform(terraform, ["plan", "-input=false", "-no-color", "-out=plan.tfplan"], folder, extra_env)
    plan_json = folder / "plan.json"
    plan_json.write_text(_terraform(terraform, ["show", "-json", "plan.tfplan"], folder, extra_env))
    return plan_json


def plan_all_stacks(terraform: TerraformToolchain, work: Path, url: str, prefix: str) -> dict[str, Path]:
    """Every scenario initialised in turn, then applied and planned in parallel, all Terraform commands sharing
    one provider process; the provider's schema is saved beside the stacks (PROVIDER_SCHEMA_FILE) while that
    process is still up."""
    folders = {s.name: init_stack(terraform, s, work, url, prefix) for s in SCENARIOS}
    with shared_provider(folders[SCENARIOS[0].name]) as extra_env, ThreadPoolExecutor(len(SCENARIOS)) as pool:
        futures = {s.name: pool.submit(apply_change_and_plan, terraform, s, folders[s.name], url, prefix, extra_env)
                   for s in SCENARIOS}
        plans = {name: future.result() for name, future in futures.items()}
        schema = _terraform(terraform, ["providers", "schema", "-json"], folders[SCENARIOS[0].name], extra_env)
    (work / PROVIDER_SCHEMA_FILE).write_text(schema)
    return plans
