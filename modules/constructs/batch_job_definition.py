"""An AWS Batch job definition that runs one container on Fargate as safely as the Fargate services do: no public IP,
read-only root filesystem with one scratch volume, non-root user, separate execution and job roles (each least
privilege), logs with retention under a customer key, a timeout, and retries for infrastructure failures only.

Why retries only for infrastructure: a job that failed on its own input or code fails the same way again, and
every attempt is paid for. AWS Batch retries a failed attempt when one of `evaluateOnExit` matches with RETRY, and
gives up at the first EXIT; the conditions below match how the infrastructure reports its failures (the attempt's
status reason), and the last one ends every other failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from modules import aws
from modules.constructs.fargate_task import (
    SCRATCH_VOLUME,
    container_problems,
    logs_and_execution_role,
    scratch_environment_and_logs,
    task_trust,
)
from modules.constructs.service_roles import role_with_policy
from modules.limits import (
    BATCH_EVALUATE_ON_EXIT,
    BATCH_JOB_TIMEOUT_MINIMUM,
    BATCH_RETRY_ATTEMPTS,
    fargate_size_problems,
)

# Status reasons of failed attempts that the infrastructure caused (glob patterns, AWS Batch's RetryStrategy):
# - a Fargate Spot task reclaimed by AWS (ECS's stopped reason for a Spot interruption);
# - a host that failed or was terminated under the job (AWS Batch's documented example for retries);
# - a task that never started (image pull, network interface or platform errors before the container ran).
INFRASTRUCTURE_FAILURES = (
    "Your Spot Task was interrupted*",
    "Host EC2*",
    "Task failed to start*",
    "ResourceInitializationError*",
)


@dataclass(frozen=True, kw_only=True)
class BatchJobDefinitionProps:
    """One containerised job: its image and size, what it may call, how long it may run and when it is retried."""

    name: str  # job definition, roles (<name>-execution, <name>-job) and log group (/aws/batch/<name>)
    image: str  # <repository url>:<tag> or <repository url>@sha256:<digest>
    repository_arn: str  # the only repository the execution role may pull from
    region: str
    account_id: str  # confused-deputy guard on the roles' trust
    kms_key_arn: str  # CMK of the log group
    vcpu: float  # Fargate vCPUs: 0.25, 0.5, 1, 2, 4, 8, 16
    memory: int  # MiB, one Fargate allows for the vCPUs
    cpu_architecture: str = "X86_64"  # X86_64 or ARM64 (Fargate Spot runs X86_64 only)
    command: tuple[str, ...]  # arguments to the image's entry point; `Ref::<name>` takes a job parameter
    parameters: dict[str, str] = field(default_factory=dict)  # defaults of the command's Ref:: parameters
    environment: dict[str, str] = field(default_factory=dict)
    job_policy_statements: tuple[Any, ...] = ()  # what the code in the container calls
    retry_attempts: int  # attempts, the first included (1-10)
    retry_on_status_reasons: tuple[str, ...] = INFRASTRUCTURE_FAILURES
    timeout_seconds: int  # per attempt, at least 60
    log_retention_days: int
    user: str = "10001:10001"  # non-root uid:gid (the inference image's `model` user)


class BatchJobDefinition(Construct):
    """Exposes `job_definition` (`.arn` with its revision, `.name`), `execution_role`, `job_role`, `log_group`,
    `name`, `container_properties` (the dict behind the JSON)."""

    def __init__(self, scope: Construct, id_: str, *, props: BatchJobDefinitionProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.name = props.name
        self.log_group, self.execution_role = logs_and_execution_role(
            self,
            props,
            log_group_name=f"/aws/batch/{props.name}",
            description=f"{props.name}: pulls the image and writes the job's logs",
        )
        self.job_role, self.job_role_policy, _ = role_with_policy(
            self,
            "job-role",
            name=f"{props.name}-job",
            trust=task_trust(props.account_id),
            description=f"{props.name}: the job's own AWS calls",
            statements=list(props.job_policy_statements),
        )
        self.container_properties = self._container(props)
        self.job_definition = aws.batch_job_definition.BatchJobDefinition(
            self,
            "job-definition",
            name=props.name,
            type="container",
            platform_capabilities=["FARGATE"],
            container_properties=json.dumps(self.container_properties),
            parameters=dict(sorted(props.parameters.items())) or None,
            propagate_tags=True,
            retry_strategy=aws.batch_job_definition.BatchJobDefinitionRetryStrategy(
                attempts=props.retry_attempts,
                evaluate_on_exit=[
                    *(
                        aws.batch_job_definition.BatchJobDefinitionRetryStrategyEvaluateOnExit(
                            action="RETRY", on_status_reason=reason
                        )
                        for reason in props.retry_on_status_reasons
                    ),
                    aws.batch_job_definition.BatchJobDefinitionRetryStrategyEvaluateOnExit(
                        action="EXIT", on_reason="*"
                    ),
                ],
            ),
            timeout=aws.batch_job_definition.BatchJobDefinitionTimeout(attempt_duration_seconds=props.timeout_seconds),
            # A job may start as soon as it is registered: the job role's grants must exist first.
            depends_on=[self.job_role_policy] if self.job_role_policy else None,
        )

    def _container(self, props: BatchJobDefinitionProps) -> dict[str, Any]:
        return {
            "image": props.image,
            "command": list(props.command),
            "jobRoleArn": self.job_role.arn,
            "executionRoleArn": self.execution_role.arn,
            "resourceRequirements": [
                {"type": "VCPU", "value": f"{props.vcpu:g}"},
                {"type": "MEMORY", "value": str(props.memory)},
            ],
            "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": props.cpu_architecture},
            "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
            "networkConfiguration": {"assignPublicIp": "DISABLED"},
            "readonlyRootFilesystem": True,
            "privileged": False,
            "user": props.user,
            "linuxParameters": {"initProcessEnabled": True},
            # The one writable place (the image declares it as a VOLUME, see modules/constructs/fargate_task.py).
            "volumes": [{"name": SCRATCH_VOLUME}],
            **scratch_environment_and_logs(
                environment=props.environment,
                log_group_name=self.log_group.name,
                region=props.region,
                stream_prefix=props.name,
            ),
        }


def _validate(id_: str, props: BatchJobDefinitionProps) -> None:
    problems = []
    units = props.vcpu * 1024
    if units != int(units):
        problems.append(f"vcpu must be one of Fargate's vCPU values, got {props.vcpu}")
    else:
        problems += fargate_size_problems(int(units), props.memory)
    low, high = BATCH_RETRY_ATTEMPTS.value
    if not low <= props.retry_attempts <= high:
        problems.append(f"retry_attempts must be {low}-{high}, got {props.retry_attempts}")
    if len(props.retry_on_status_reasons) + 1 > BATCH_EVALUATE_ON_EXIT.value:
        problems.append(
            f"retry_on_status_reasons: at most {BATCH_EVALUATE_ON_EXIT.value - 1} (AWS Batch takes "
            f"{BATCH_EVALUATE_ON_EXIT.value} conditions, the last is EXIT for every other failure)"
        )
    if props.timeout_seconds < BATCH_JOB_TIMEOUT_MINIMUM.value:
        problems.append(
            f"timeout_seconds must be at least {BATCH_JOB_TIMEOUT_MINIMUM.value}, got {props.timeout_seconds}"
        )
    problems += container_problems(props)
    if not props.command:
        problems.append("command is required (the image's batch mode and its arguments)")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
