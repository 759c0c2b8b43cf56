"""Real Terraform plans for the plan-review tests: apply configurations on the emulator, change things, plan.

Why real plans: the review reads Terraform's JSON plan format, whose details (how a replacement, a move, an
import, a `removed` block, a deposed object or a refresh-only plan is spelled, where sensitivity and drift live)
are easy to get wrong by hand. So the tests never hand-write plan JSON: every plan here comes from
`terraform plan -out` + `terraform show -json` run by the real CLI and the real hashicorp/aws provider against
the moto emulator, and `terraform show` of the same plan file is kept beside it (`<name>.txt`) so tests can
compare the review with what Terraform itself prints.

Each stack is a scenario: a list of steps (apply a configuration, act out of band with boto3, plan). The plan
named `plan` is the stack's main plan (`<stack>/plan.json`); others sit beside it (`<stack>/<name>.json`).
- `storage`: every kind of change: create, in-place update, a replacement forced by a bucket rename, a delete
  (of a topic that has a subscription: stateful), a `moved` block, an `import` block, a `removed` block with
  `destroy = false` (forget), a sensitive value, output changes and drift made out of band;
- `messaging`: nothing to change: an empty stack, never applied (its plan has no `resource_changes` at all);
- `serving`: a cost increase with what this pipeline pays for (SageMaker instances scaled by a new scaling
  target, Fargate on-demand and Spot, a second NAT gateway, an interface endpoint), a resource the price table
  does not know (a notebook instance), and IAM changes: a wildcard gained, a trust policy gaining principals, a
  topic policy losing its condition, a policy Terraform masks as sensitive; then the same configuration planned
  against empty state (`first-deploy`), where subnet ids and ARNs are all known only after apply;
- `edge`: a cost decrease (a NAT gateway, a KMS key, alarms and a secret removed), whitespace-only changes, and a
  deposed object (a create-before-destroy bucket replacement whose old bucket could not be deleted);
- `drift`: a no-op plan right after apply, then drift made out of band (a deleted topic that a subscription
  needs, a changed retention, a changed parameter) planned normally and refresh-only.
Only resources that the emulator creates quickly; no SQS queue (about 25 s each through Terraform here).
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

from modules.emulator_provider import provider_settings
from tools.terraform_cli import TerraformToolchain, shared_provider

REGION = "us-east-1"
ACCOUNT = "123456789012"
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
PROVIDER_SCHEMA_FILE = "provider-schema.json"
AWS_PROVIDER_VERSION_CONSTRAINT = ">= 5.0"
FAKE_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:results-subscriber"
ASSUME_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ],
    }
)
MAIN_PLAN = "plan"
FIRST_DEPLOY_PLAN = "first-deploy"  # the changed serving stack planned against empty state: everything is new

# What the storage stack's plan must show; the tests compare the review against these.
STORAGE_EXPECTED = {
    "add": 1,
    "change": 3,
    "replace": 1,
    "destroy": 3,
    "import": 1,
    "move": 1,
    "forget": 1,
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

# serving: sizes before and after, so the tests can recompute every price from the table.
SERVING_TASK_CPU, SERVING_TASK_MEMORY = "512", "1024"
SERVING_TASKS_BEFORE, SERVING_TASKS_AFTER, SPOT_TASKS = 1, 3, 2
ENDPOINT_TYPE_BEFORE, ENDPOINT_TYPE_AFTER = "ml.m5.large", "ml.m5.xlarge"
ENDPOINT_SCALING_MIN, ENDPOINT_SCALING_MAX = 2, 4
ENDPOINT = "aws_sagemaker_endpoint.main"
SERVICE = "aws_ecs_service.server"
SPOT_SERVICE = "aws_ecs_service.spot_worker"
NEW_NAT = "aws_nat_gateway.b"
NEW_ADDRESS = "aws_eip.nat_b"
NEW_INTERFACE_ENDPOINT = "aws_vpc_endpoint.runtime"
UNKNOWN_PRICED = "aws_sagemaker_notebook_instance.lab"
WIDENED_POLICY = "aws_iam_role_policy.model_access"
TRUSTING_ROLE = "aws_iam_role.model"
LOOSENED_TOPIC_POLICY = "aws_sns_topic_policy.events"
MASKED_POLICY = "aws_iam_role_policy.tenant_scope"
NEW_TRUSTED_SERVICE = "ecs-tasks.amazonaws.com"
NEW_TRUSTED_ACCOUNT = "arn:aws:iam::210987654321:root"

# edge: what goes, what stays, what changes only in whitespace, what is left deposed.
REMOVED_NAT, REMOVED_ADDRESS, REMOVED_KEY = "aws_nat_gateway.egress", "aws_eip.egress", "aws_kms_key.old"
REMOVED_SECRET = "aws_secretsmanager_secret.legacy"
REMOVED_ALARMS = ("aws_cloudwatch_metric_alarm.errors", "aws_cloudwatch_metric_alarm.throttles")
JSON_PARAMETER, TEXT_PARAMETER = "aws_ssm_parameter.settings", "aws_ssm_parameter.banner"
DEPOSED_BUCKET = "aws_s3_bucket.reports"
BANNER = (
    "Inference pipeline maintenance notice: jobs submitted during the window are queued and run once it ends. Thanks."
)

# drift: what is changed out of band.
DOOMED_TOPIC = "aws_sns_topic.doomed"
DOOMED_SUBSCRIPTION = "aws_sns_topic_subscription.doomed_to_queue"
DRIFTED_LOG_GROUP = "aws_cloudwatch_log_group.jobs"
DRIFTED_PARAMETER = "aws_ssm_parameter.mode"
SELF_MANAGED_TOPIC = "aws_sns_topic.alerts"

Config = Callable[[str, str], dict[str, Any]]


@dataclass(frozen=True)
class Apply:
    """`terraform apply` of CONFIG; MAY_FAIL for an apply that is meant to fail half-way (a deposed object)."""

    config: Config
    may_fail: bool = False


@dataclass(frozen=True)
class OutOfBand:
    """What a person with console access does between Terraform runs (boto3 against the emulator)."""

    action: Callable[[str, str], None]


@dataclass(frozen=True)
class Plan:
    """`terraform plan -out=<name>.tfplan` of CONFIG, saved as `<name>.json` and `<name>.txt`."""

    name: str
    config: Config
    args: tuple[str, ...] = ()


Step = Apply | OutOfBand | Plan


@dataclass(frozen=True)
class StackScenario:
    name: str
    steps: tuple[Step, ...]

    @property
    def first_config(self) -> Config:
        return next(step.config for step in self.steps if isinstance(step, (Apply, Plan)))


def _settings(url: str) -> dict[str, Any]:
    return {
        "terraform": {
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER_VERSION_CONSTRAINT}}
        },
        "provider": {"aws": {"region": REGION, **provider_settings(url)}},
    }


def _session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)


def _role(name: str) -> dict[str, Any]:
    return {"name": name, "assume_role_policy": ASSUME_ROLE_POLICY}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# --- storage -----------------------------------------------------------------------------------------------


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
                "results_to_queue": {
                    "topic_arn": "${aws_sns_topic.results.arn}",
                    "protocol": "sqs",
                    "endpoint": FAKE_QUEUE_ARN,
                },
            },
            "aws_iam_role": {
                "legacy": _role(f"{prefix}-legacy"),
                "queue_worker": _role(f"{prefix}-worker"),
                "forgotten": _role(f"{prefix}-forgotten"),
            },
            "aws_cloudwatch_log_group": {"app": {"name": f"/{prefix}/app", "retention_in_days": 7}},
            "aws_ssm_parameter": {
                "api_token": {"name": f"/{prefix}/api-token", "type": "SecureString", "value": SECRET_BEFORE}
            },
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
            "aws_ssm_parameter": {
                "api_token": {"name": f"/{prefix}/api-token", "type": "SecureString", "value": SECRET_AFTER}
            },
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
    session = _session()
    session.client("logs", endpoint_url=url).put_retention_policy(logGroupName=f"/{prefix}/app", retentionInDays=30)
    session.client("s3", endpoint_url=url).create_bucket(Bucket=f"{prefix}-imported")


def messaging_empty(url: str, prefix: str) -> dict[str, Any]:
    """The provider and nothing else, planned without an apply: a real no-change plan for two provider
    start-ups (an applied resource would add an apply and a refresh, competing for the machine's two cores)."""
    del prefix
    return _settings(url)


# --- serving ----------------------------------------------------------------------------------------------


def _network(prefix: str) -> dict[str, Any]:
    return {
        "aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}},
        "aws_subnet": {
            "a": {"vpc_id": "${aws_vpc.main.id}", "cidr_block": "10.0.1.0/24", "availability_zone": f"{REGION}a"},
            "b": {"vpc_id": "${aws_vpc.main.id}", "cidr_block": "10.0.2.0/24", "availability_zone": f"{REGION}b"},
        },
        "aws_security_group": {"models": {"name": f"{prefix}-models", "vpc_id": "${aws_vpc.main.id}"}},
    }


def serving_base(url: str, prefix: str) -> dict[str, Any]:
    return {
        **_settings(url),
        "variable": _tenant_variable(f"{prefix}-tenant-a"),
        "resource": {
            **_network(prefix),
            "aws_internet_gateway": {"main": {"vpc_id": "${aws_vpc.main.id}"}},
            "aws_eip": {"nat_a": {"domain": "vpc"}},
            "aws_nat_gateway": {"a": {"allocation_id": "${aws_eip.nat_a.id}", "subnet_id": "${aws_subnet.a.id}"}},
            "aws_cloudwatch_metric_alarm": {
                "latency": {
                    "alarm_name": f"{prefix}-latency",
                    "namespace": "AWS/SageMaker",
                    "metric_name": "ModelLatency",
                    "statistic": "Average",
                    "period": 60,
                    "evaluation_periods": 1,
                    "threshold": 1000,
                    "comparison_operator": "GreaterThanThreshold",
                }
            },
            "aws_kms_key": {"models": {"description": "models", "deletion_window_in_days": 7}},
            "aws_ecs_cluster": {"main": {"name": f"{prefix}-cluster"}},
            "aws_ecs_task_definition": {
                "server": {
                    "family": f"{prefix}-server",
                    "requires_compatibilities": ["FARGATE"],
                    "network_mode": "awsvpc",
                    "cpu": SERVING_TASK_CPU,
                    "memory": SERVING_TASK_MEMORY,
                    "container_definitions": json.dumps(
                        [{"name": "server", "image": "public.ecr.aws/x/server:1", "essential": True}]
                    ),
                }
            },
            "aws_ecs_service": {
                "server": {
                    "name": f"{prefix}-server",
                    "cluster": "${aws_ecs_cluster.main.arn}",
                    "task_definition": "${aws_ecs_task_definition.server.arn}",
                    "desired_count": SERVING_TASKS_BEFORE,
                    "launch_type": "FARGATE",
                    "network_configuration": {
                        "subnets": ["${aws_subnet.a.id}", "${aws_subnet.b.id}"],
                        "assign_public_ip": False,
                    },
                }
            },
            "aws_iam_role": {
                "model": {
                    "name": f"{prefix}-model",
                    "assume_role_policy": policy(
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "sagemaker.amazonaws.com"},
                        }
                    ),
                }
            },
            "aws_iam_role_policy": {
                "model_access": {
                    "name": "model-access",
                    "role": "${aws_iam_role.model.id}",
                    "policy": policy(
                        {
                            "Sid": "ReadModels",
                            "Effect": "Allow",
                            "Action": ["s3:GetObject"],
                            "Resource": f"arn:aws:s3:::{prefix}-models/models/*",
                        }
                    ),
                },
                "tenant_scope": {
                    "name": "tenant-scope",
                    "role": "${aws_iam_role.model.id}",
                    "policy": policy(
                        {
                            "Sid": "TenantData",
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::${var.tenant_bucket}/*",
                        }
                    ),
                },
            },
            "aws_sagemaker_model": {
                "main": {
                    "name": f"{prefix}-model",
                    "execution_role_arn": "${aws_iam_role.model.arn}",
                    "primary_container": {"image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/server:1"},
                    "vpc_config": {
                        "subnets": ["${aws_subnet.a.id}"],
                        "security_group_ids": ["${aws_security_group.models.id}"],
                    },
                }
            },
            "aws_sagemaker_endpoint_configuration": {"main": _endpoint_config(prefix, "v1", ENDPOINT_TYPE_BEFORE, 1)},
            "aws_sagemaker_endpoint": {
                "main": {
                    "name": f"{prefix}-endpoint",
                    "endpoint_config_name": "${aws_sagemaker_endpoint_configuration.main.name}",
                }
            },
            "aws_sns_topic": {"events": {"name": f"{prefix}-events"}},
            "aws_sns_topic_policy": {"events": {"arn": "${aws_sns_topic.events.arn}", "policy": _events_policy(True)}},
        },
    }


def _tenant_variable(bucket: str) -> dict[str, Any]:
    """A sensitive input that a policy is built from: Terraform then masks the whole policy in the plan."""
    return {"tenant_bucket": {"type": "string", "default": bucket, "sensitive": True}}


def _endpoint_config(prefix: str, version: str, instance_type: str, count: int) -> dict[str, Any]:
    return {
        "name": f"{prefix}-config-{version}",
        "lifecycle": {"create_before_destroy": True},
        "production_variants": [
            {
                "variant_name": "primary",
                "model_name": "${aws_sagemaker_model.main.name}",
                "instance_type": instance_type,
                "initial_instance_count": count,
            }
        ],
    }


def _events_policy(conditioned: bool) -> str:
    statement: dict[str, Any] = {
        "Sid": "EventsPublish",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Principal": {"Service": "events.amazonaws.com"},
        "Resource": "${aws_sns_topic.events.arn}",
    }
    if conditioned:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    return policy(statement)


def serving_changed(url: str, prefix: str) -> dict[str, Any]:
    config = serving_base(url, prefix)
    config["variable"] = _tenant_variable(f"{prefix}-tenant-b")
    resources = config["resource"]
    resources["aws_eip"]["nat_b"] = {"domain": "vpc"}
    resources["aws_nat_gateway"]["b"] = {"allocation_id": "${aws_eip.nat_b.id}", "subnet_id": "${aws_subnet.b.id}"}
    resources["aws_vpc_endpoint"] = {
        "runtime": {
            "vpc_id": "${aws_vpc.main.id}",
            "service_name": f"com.amazonaws.{REGION}.sagemaker.runtime",
            "vpc_endpoint_type": "Interface",
            "subnet_ids": ["${aws_subnet.a.id}", "${aws_subnet.b.id}"],
        }
    }
    resources["aws_sagemaker_endpoint_configuration"]["main"] = _endpoint_config(prefix, "v2", ENDPOINT_TYPE_AFTER, 1)
    resources["aws_appautoscaling_target"] = {
        "endpoint": {
            "service_namespace": "sagemaker",
            "scalable_dimension": "sagemaker:variant:DesiredInstanceCount",
            "resource_id": "endpoint/${aws_sagemaker_endpoint.main.name}/variant/primary",
            "min_capacity": ENDPOINT_SCALING_MIN,
            "max_capacity": ENDPOINT_SCALING_MAX,
        }
    }
    resources["aws_ecs_service"]["server"]["desired_count"] = SERVING_TASKS_AFTER
    resources["aws_ecs_service"]["spot_worker"] = {
        "name": f"{prefix}-spot-worker",
        "cluster": "${aws_ecs_cluster.main.arn}",
        "task_definition": "${aws_ecs_task_definition.server.arn}",
        "desired_count": SPOT_TASKS,
        "capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT", "weight": 1}],
        "network_configuration": {"subnets": ["${aws_subnet.a.id}"]},
    }
    resources["aws_sagemaker_notebook_instance"] = {
        "lab": {"name": f"{prefix}-lab", "role_arn": "${aws_iam_role.model.arn}", "instance_type": "ml.t3.medium"}
    }
    resources["aws_iam_role"]["model"]["assume_role_policy"] = policy(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"Service": ["sagemaker.amazonaws.com", NEW_TRUSTED_SERVICE], "AWS": NEW_TRUSTED_ACCOUNT},
        }
    )
    resources["aws_iam_role_policy"]["model_access"]["policy"] = policy(
        {
            "Sid": "ReadModels",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:*"],
            "Resource": f"arn:aws:s3:::{prefix}-models/models/*",
        },
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": "logs:PutLogEvents",
            "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/{prefix}/*",
        },
    )
    resources["aws_sns_topic_policy"]["events"]["policy"] = _events_policy(False)
    return config


# --- edge -------------------------------------------------------------------------------------------------


def _reports_bucket(prefix: str, version: str) -> dict[str, Any]:
    return {"bucket": f"{prefix}-reports-{version}", "lifecycle": {"create_before_destroy": True}}


def _alarm(prefix: str, name: str) -> dict[str, Any]:
    return {
        "alarm_name": f"{prefix}-{name}",
        "namespace": "AWS/Lambda",
        "metric_name": name.capitalize(),
        "statistic": "Sum",
        "period": 60,
        "evaluation_periods": 1,
        "threshold": 1,
        "comparison_operator": "GreaterThanOrEqualToThreshold",
    }


def _parameters(prefix: str, settings: str, banner: str) -> dict[str, Any]:
    # insecure_value: the provider masks `value` as sensitive even for a String parameter.
    return {
        "settings": {"name": f"/{prefix}/settings", "type": "String", "insecure_value": settings},
        "banner": {"name": f"/{prefix}/banner", "type": "String", "insecure_value": banner},
    }


def edge_base(url: str, prefix: str, reports: str = "v1") -> dict[str, Any]:
    return {
        **_settings(url),
        "resource": {
            "aws_vpc": {"main": {"cidr_block": "10.1.0.0/16"}},
            "aws_subnet": {
                "a": {"vpc_id": "${aws_vpc.main.id}", "cidr_block": "10.1.1.0/24", "availability_zone": f"{REGION}a"}
            },
            "aws_eip": {"egress": {"domain": "vpc"}},
            "aws_nat_gateway": {"egress": {"allocation_id": "${aws_eip.egress.id}", "subnet_id": "${aws_subnet.a.id}"}},
            "aws_kms_key": {
                "old": {"description": "old", "deletion_window_in_days": 7},
                "kept": {"description": "kept", "deletion_window_in_days": 7},
            },
            "aws_cloudwatch_metric_alarm": {name: _alarm(prefix, name) for name in ("errors", "throttles", "duration")},
            "aws_secretsmanager_secret": {"legacy": {"name": f"{prefix}-legacy", "recovery_window_in_days": 0}},
            "aws_ssm_parameter": _parameters(prefix, json.dumps({"batch": 8, "timeout": 30}), BANNER),
            "aws_s3_bucket": {"reports": _reports_bucket(prefix, reports)},
        },
    }


def edge_renamed_bucket(url: str, prefix: str) -> dict[str, Any]:
    """Only the bucket renamed: its create-before-destroy replacement creates v2, then cannot delete v1 (it holds
    an object), so v1 stays in state as a deposed object."""
    return edge_base(url, prefix, reports="v2")


def edge_changed(url: str, prefix: str) -> dict[str, Any]:
    config = edge_base(url, prefix, reports="v2")
    resources = config["resource"]
    for gone in (REMOVED_NAT, REMOVED_ADDRESS, REMOVED_KEY, REMOVED_SECRET, *REMOVED_ALARMS):
        resource_type, name = gone.split(".")
        del resources[resource_type][name]
    for resource_type in ("aws_nat_gateway", "aws_eip", "aws_secretsmanager_secret"):
        del resources[resource_type]
    resources["aws_ssm_parameter"] = _parameters(
        prefix, json.dumps({"batch": 8, "timeout": 30}, separators=(",", ":")), BANNER.replace("run once", "run  once")
    )
    return config


def edge_fill_old_bucket(url: str, prefix: str) -> None:
    _session().client("s3", endpoint_url=url).put_object(
        Bucket=f"{prefix}-reports-v1", Key="2024/summary.json", Body=b"{}"
    )


# --- drift ------------------------------------------------------------------------------------------------


def drift_config(url: str, prefix: str) -> dict[str, Any]:
    return {
        **_settings(url),
        "resource": {
            "aws_sns_topic": {"alerts": {"name": f"{prefix}-alerts"}, "doomed": {"name": f"{prefix}-doomed"}},
            "aws_sns_topic_policy": {
                "alerts": {
                    "arn": "${aws_sns_topic.alerts.arn}",
                    "policy": policy(
                        {
                            "Sid": "AlarmsPublish",
                            "Effect": "Allow",
                            "Action": "sns:Publish",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Resource": "${aws_sns_topic.alerts.arn}",
                        }
                    ),
                }
            },
            "aws_sns_topic_subscription": {
                "doomed_to_queue": {
                    "topic_arn": "${aws_sns_topic.doomed.arn}",
                    "protocol": "sqs",
                    "endpoint": FAKE_QUEUE_ARN,
                }
            },
            "aws_cloudwatch_log_group": {"jobs": {"name": f"/{prefix}/jobs", "retention_in_days": 7}},
            "aws_ssm_parameter": {"mode": {"name": f"/{prefix}/mode", "type": "String", "value": "blue"}},
        },
    }


def drift_out_of_band(url: str, prefix: str) -> None:
    """Delete a topic (its subscription goes with it), change a retention and a parameter, by hand."""
    session = _session()
    sns = session.client("sns", endpoint_url=url)
    doomed = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f"{prefix}-doomed"))
    sns.delete_topic(TopicArn=doomed)
    session.client("logs", endpoint_url=url).put_retention_policy(logGroupName=f"/{prefix}/jobs", retentionInDays=30)
    session.client("ssm", endpoint_url=url).put_parameter(
        Name=f"/{prefix}/mode", Value="green", Type="String", Overwrite=True
    )


SCENARIOS = (
    StackScenario(
        "storage", (Apply(storage_base), OutOfBand(storage_drift_and_import_source), Plan(MAIN_PLAN, storage_changed))
    ),
    StackScenario("messaging", (Plan(MAIN_PLAN, messaging_empty),)),
    StackScenario(
        "serving",
        (
            Apply(serving_base),
            Plan(MAIN_PLAN, serving_changed),
            Plan(FIRST_DEPLOY_PLAN, serving_changed, ("-state=first-deploy.tfstate",)),
        ),
    ),
    StackScenario(
        "edge",
        (
            Apply(edge_base),
            OutOfBand(edge_fill_old_bucket),
            Apply(edge_renamed_bucket, may_fail=True),
            Plan(MAIN_PLAN, edge_changed),
        ),
    ),
    StackScenario(
        "drift",
        (
            Apply(drift_config),
            Plan("noop", drift_config),
            OutOfBand(drift_out_of_band),
            Plan(MAIN_PLAN, drift_config),
            Plan("refresh", drift_config, ("-refresh-only",)),
        ),
    ),
)


def _write_config(folder: Path, config: dict[str, Any]) -> None:
    (folder / "main.tf.json").write_text(json.dumps(config, indent=2))


def _terraform(
    terraform: TerraformToolchain, args: list[str], cwd: Path, extra_env: dict[str, str] | None = None
) -> str:
    try:
        return terraform.run(args, cwd, env={**os.environ, **(extra_env or {})}).stdout
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"terraform {' '.join(args)} failed in {cwd}:\n{exc.stderr}\n{exc.stdout}") from exc


def init_stack(terraform: TerraformToolchain, scenario: StackScenario, work: Path, url: str, prefix: str) -> Path:
    """Write the first configuration and `terraform init` it.

    Stacks are initialised one at a time and retried once: concurrent inits race to create the same folder in
    the shared plugin cache ("mkdir ...: file exists"), whoever else on the machine is running Terraform.
    """
    folder = work / scenario.name
    folder.mkdir(parents=True, exist_ok=True)
    _write_config(folder, scenario.first_config(url, f"{prefix}-{scenario.name}"))
    try:
        _terraform(terraform, ["init", "-input=false", "-no-color"], folder)
    except AssertionError:
        _terraform(terraform, ["init", "-input=false", "-no-color"], folder)
    return folder


def save_plan(
    terraform: TerraformToolchain,
    folder: Path,
    name: str,
    args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> Path:
    """`terraform plan -out=<name>.tfplan ARGS`, then `<name>.json` (show -json) and `<name>.txt` (show)."""
    _terraform(terraform, ["plan", "-input=false", "-no-color", f"-out={name}.tfplan", *args], folder, extra_env)
    plan_json = folder / f"{name}.json"
    plan_json.write_text(_terraform(terraform, ["show", "-json", f"{name}.tfplan"], folder, extra_env))
    (folder / f"{name}.txt").write_text(
        _terraform(terraform, ["show", "-no-color", f"{name}.tfplan"], folder, extra_env)
    )
    return plan_json


def run_steps(
    terraform: TerraformToolchain,
    scenario: StackScenario,
    folder: Path,
    url: str,
    prefix: str,
    extra_env: dict[str, str],
) -> Path:
    """Run the scenario's steps in order; return the folder (its plans are `<name>.json` inside)."""
    stack_prefix = f"{prefix}-{scenario.name}"
    for step in scenario.steps:
        if isinstance(step, OutOfBand):
            step.action(url, stack_prefix)
            continue
        _write_config(folder, step.config(url, stack_prefix))
        if isinstance(step, Plan):
            save_plan(terraform, folder, step.name, step.args, extra_env)
            continue
        try:
            _terraform(terraform, ["apply", "-auto-approve", "-input=false", "-no-color"], folder, extra_env)
        except AssertionError:
            if not step.may_fail:
                raise
    return folder


def plan_all_stacks(terraform: TerraformToolchain, work: Path, url: str, prefix: str) -> dict[str, Path]:
    """Every scenario initialised in turn, then run in parallel, all Terraform commands sharing one provider
    process; the provider's schema is saved beside the stacks (PROVIDER_SCHEMA_FILE) while that process is up.
    Returns {stack: its main plan.json}."""
    folders = {s.name: init_stack(terraform, s, work, url, prefix) for s in SCENARIOS}
    with shared_provider(folders[SCENARIOS[0].name]) as extra_env, ThreadPoolExecutor(len(SCENARIOS)) as pool:
        futures = {
            s.name: pool.submit(run_steps, terraform, s, folders[s.name], url, prefix, extra_env) for s in SCENARIOS
        }
        plans = {name: future.result() / f"{MAIN_PLAN}.json" for name, future in futures.items()}
        schema = _terraform(terraform, ["providers", "schema", "-json"], folders[SCENARIOS[0].name], extra_env)
    (work / PROVIDER_SCHEMA_FILE).write_text(schema)
    return plans
