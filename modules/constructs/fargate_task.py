"""What a container on Fargate gets the same way whether an ECS service (fargate_service.py) or an AWS Batch job
(batch_job_definition.py) runs it: roles only ECS tasks of this account may assume, its own log group and an
execution role that may pull only its own image and write only to that group, one writable scratch volume, its
environment, and the same checks (architecture, non-root user, log retention).

Why functions: the log group and roles are created in the caller's scope under the caller's ids, so each keeps
its Terraform address; the container pieces are plain dicts for the caller's container definition (the key order
is the caller's, and it is in the synthesized JSON).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from constructs import Construct

from modules import aws
from modules.constructs.encrypted_log_group import encrypted_log_group, log_group_problems
from modules.constructs.policy_statements import statement
from modules.constructs.service_roles import assume_role_policy, role_with_policy

ECS_TASKS = "ecs-tasks.amazonaws.com"
CPU_ARCHITECTURES = ("X86_64", "ARM64")  # what Fargate runs (Fargate Spot: X86_64 only)

# The read-only root filesystem leaves one writable place: a task (bind-mount) volume at SCRATCH_PATH. AWS's ECS
# developer guide, "Use bind mounts with Amazon ECS" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
# bind-mounts.html), says: "If the absolute path that's specified in the VOLUME directive is the same as the
# containerPath that's specified in the task definition, the data in the VOLUME directive path is copied to the
# data volume" and "By default, the volume permissions are set to 0755 and the owner as root. These permissions
# can be customized in the Dockerfile." A non-root container user therefore cannot write to the volume unless the
# image declares SCRATCH_PATH as a VOLUME with a mode it may write (containers/inference/Dockerfile does;
# tests/stacks/test_compute.py checks that the image and this mount agree).
SCRATCH_PATH = "/tmp"
SCRATCH_VOLUME = "scratch"


def task_trust(account_id: str) -> str:
    """ECS tasks may assume the role, only on ACCOUNT_ID's behalf (ECS acts for many accounts)."""
    return assume_role_policy(ECS_TASKS, account_id=account_id)


class RunsAnImage(Protocol):
    """What the service's and the job's props say alike about the container they run (read-only, as in their
    frozen props)."""

    @property
    def name(self) -> str: ...  # also the log group's stream prefix and the roles' prefix

    @property
    def account_id(self) -> str: ...

    @property
    def repository_arn(self) -> str: ...  # the only repository the execution role may pull from

    @property
    def kms_key_arn(self) -> str: ...  # CMK of the log group

    @property
    def log_retention_days(self) -> int: ...

    @property
    def cpu_architecture(self) -> str: ...

    @property
    def user(self) -> str: ...  # uid[:gid]


class LogsAndExecutionRole(NamedTuple):
    log_group: aws.cloudwatch_log_group.CloudwatchLogGroup
    execution_role: aws.iam_role.IamRole


def logs_and_execution_role(
    scope: Construct, task: RunsAnImage, *, log_group_name: str, description: str
) -> LogsAndExecutionRole:
    """The container's log group LOG_GROUP_NAME (as SCOPE/`log-group`), then role `<name>-execution` (as
    SCOPE/`execution-role`, DESCRIPTION) that ECS uses to start it: it may pull only from the task's repository and
    write only to that log group."""
    log_group = encrypted_log_group(
        scope,
        "log-group",
        name=log_group_name,
        retention_days=task.log_retention_days,
        kms_key_arn=task.kms_key_arn,
    )
    role = role_with_policy(
        scope,
        "execution-role",
        name=f"{task.name}-execution",
        description=description,
        trust=task_trust(task.account_id),
        statements=[
            # GetAuthorizationToken has no resource-level permissions.
            statement("EcrToken", ["ecr:GetAuthorizationToken"], ["*"]),
            statement(
                "PullOwnImage",
                ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                [task.repository_arn],
            ),
            statement("OwnLogGroupOnly", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group.arn}:*"]),
        ],
    ).role
    return LogsAndExecutionRole(log_group, role)


def container_problems(task: RunsAnImage) -> list[str]:
    """What the service's and the job's validation report alike: the architecture, a non-root user, the logs'
    retention."""
    problems = []
    if task.cpu_architecture not in CPU_ARCHITECTURES:
        problems.append(f"cpu_architecture must be X86_64 or ARM64, got {task.cpu_architecture!r}")
    if task.user.split(":")[0] in ("", "0", "root"):
        problems.append(f"user must be a non-root uid[:gid], got {task.user!r}")
    return problems + log_group_problems("log_retention_days", task.log_retention_days)


def scratch_environment_and_logs(
    *, environment: dict[str, str], log_group_name: str, region: str, stream_prefix: str
) -> dict[str, Any]:
    """The container definition's scratch mount, ENVIRONMENT (sorted, for a stable JSON) and awslogs settings."""
    return {
        "mountPoints": [{"sourceVolume": SCRATCH_VOLUME, "containerPath": SCRATCH_PATH, "readOnly": False}],
        "environment": [{"name": key, "value": value} for key, value in sorted(environment.items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group_name,
                "awslogs-region": region,
                "awslogs-stream-prefix": stream_prefix,
            },
        },
    }
