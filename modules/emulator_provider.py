"""How the AWS provider talks to the local emulator: its endpoints, placeholder credentials and skipped lookups.

Why here and not in tools/: the stacks set these provider arguments at synth (modules/stacks/base.py), and
infrastructure code never imports tools (tests/test_layers.py); tools/emulator.py, which runs the emulator, imports
them from here.
"""

from __future__ import annotations

from typing import Any

# What the local emulator's STS answers (moto's default account): the account of every emulator-only environment.
EMULATOR_ACCOUNT_ID = "123456789012"

# Terraform AWS provider `endpoints` keys for every service the stacks use (or may use soon). Canonical key
# names only: the aliases (applicationautoscaling, cloudwatchlogs, elasticloadbalancingv2 ...) conflict with
# the canonical key when both are set.
EMULATED_SERVICES: tuple[str, ...] = (
    "apigateway",
    "apigatewayv2",
    "appautoscaling",
    "autoscaling",
    "batch",
    "cloudwatch",
    "dynamodb",
    "ec2",
    "ecr",
    "ecs",
    "efs",
    "eks",
    "elb",
    "elbv2",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "resourcegroupstaggingapi",
    "s3",
    "s3control",
    "sagemaker",
    "secretsmanager",
    "servicediscovery",
    "sns",
    "sqs",
    "ssm",
    "sts",
    "xray",
)

# moto accepts any credentials; these are the conventional placeholders (never real keys).
EMULATOR_ACCESS_KEY = "test"
EMULATOR_SECRET_KEY = "test"  # a placeholder the emulator accepts, not a secret


def terraform_provider_endpoints(url: str) -> dict[str, str]:
    """The AWS provider `endpoints` block sending every emulated service to URL."""
    return dict.fromkeys(EMULATED_SERVICES, url)


def provider_settings(url: str) -> dict[str, Any]:
    """Extra AWS provider arguments for the emulator (snake_case, as `AwsProvider(**...)` and Terraform JSON take).

    Fake credentials, no credential or account-id lookups (moto has no real STS behind it), no instance
    metadata probe, path-style S3 (bucket names do not resolve as loopback hostnames), every endpoint on URL.
    """
    return {
        "access_key": EMULATOR_ACCESS_KEY,
        "secret_key": EMULATOR_SECRET_KEY,
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": "true",
        "s3_use_path_style": True,
        "endpoints": [terraform_provider_endpoints(url)],
    }
