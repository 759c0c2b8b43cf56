"""A Fargate service that runs one container privately and safely: no public IP, read-only root filesystem,
non-root user, separate task-execution and task roles (each least privilege), logs with retention under a
customer key, a deployment circuit breaker that rolls back (and deployment alarms, `roll_back_on`), and a desired
count left to autoscaling.

Optionally on a capacity-provider strategy (FARGATE and FARGATE_SPOT shares instead of the FARGATE launch type;
the cluster must have the providers attached), with a container health check and a stop timeout of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from modules import aws
from modules.constructs.aws_api_egress import allow_https_to_aws_apis, aws_api_egress_problems
from modules.constructs.fargate_task import (
    SCRATCH_VOLUME,
    container_problems,
    logs_and_execution_role,
    scratch_environment_and_logs,
    task_trust,
)
from modules.constructs.service_roles import role_with_policy
from modules.limits import FARGATE_STOP_TIMEOUT, fargate_size_problems


@dataclass(frozen=True, kw_only=True)
class FargateServiceProps:
    """One service: its image and size, its network, who may call it, and what its code may do."""

    name: str  # service, task family and log group (/ecs/<name>) name
    cluster_arn: str
    image: str  # full image reference: <repository url>:<tag> or <repository url>@sha256:<digest>
    repository_arn: str  # the ECR repository the execution role may pull from
    region: str
    account_id: str  # confused-deputy guard on the task roles' trust
    kms_key_arn: str  # CMK of the log group
    vpc_id: str
    vpc_cidr: str  # HTTPS egress to the VPC's interface endpoints
    subnet_ids: tuple[str, ...] | list[str]  # private subnets
    cpu: int  # Fargate CPU units
    memory: int  # MiB, one Fargate allows for cpu
    cpu_architecture: str = "X86_64"  # X86_64 or ARM64: must match the image
    desired_count: int  # at creation only; autoscaling owns it afterwards
    container_port: int | None  # None: the service takes no inbound traffic (queue worker)
    ingress_security_group_id: str | None = None  # the only source admitted on container_port (the ALB's group)
    target_group_arn: str | None = None  # register tasks in this target group
    health_check_grace_seconds: int | None = (
        None  # with target_group_arn: time to load the model before ALB health checks count
    )
    command: tuple[str, ...] = ()  # command override; empty: the image's CMD
    # (capacity provider, base, weight) shares, e.g. (("FARGATE", 1, 0), ("FARGATE_SPOT", 0, 1)); empty: launch type
    # FARGATE (on-demand only). The cluster must have the providers attached before the service is created.
    capacity_provider_strategy: tuple[tuple[str, int, int], ...] = ()
    health_check_command: tuple[str, ...] = ()  # run in the container ("CMD" form); empty: none (the ALB checks)
    stop_timeout_seconds: int | None = None  # SIGTERM to SIGKILL, 2-120 on Fargate; None: ECS's default (30 s)
    environment: dict[str, str] = field(default_factory=dict)
    task_policy_statements: tuple[Any, ...] = ()  # what the code in the container calls; empty: nothing
    log_retention_days: int
    user: str = "10001:10001"  # non-root uid:gid (the inference image's `model` user)
    s3_prefix_list_id: str | None = None  # HTTPS egress to the S3 gateway endpoint (ECR image layers live in S3)
    egress_to_internet: bool = False  # HTTPS egress to 0.0.0.0/0 instead of only the VPC and S3
    depends_on: tuple[Any, ...] = ()  # e.g. the listener: a target group must be attached before the service


class FargateService(Construct):
    """Exposes `service`, `task_definition`, `task_role`, `execution_role`, `security_group_id`, `log_group`,
    `name`, `container_name`."""

    def __init__(self, scope: Construct, id_: str, *, props: FargateServiceProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.name = props.name
        self.container_name = props.name
        self.log_group, self.execution_role = logs_and_execution_role(
            self,
            props,
            log_group_name=f"/ecs/{props.name}",
            description=f"{props.name}: ECS agent: pulls the image and writes the container's logs",
        )
        self.task_role = role_with_policy(
            self,
            "task-role",
            name=f"{props.name}-task",
            description=f"{props.name}: the container's own AWS calls",
            trust=task_trust(props.account_id),
            statements=list(props.task_policy_statements),
        ).role
        self.task_definition = aws.ecs_task_definition.EcsTaskDefinition(
            self,
            "task-definition",
            family=props.name,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(props.cpu),
            memory=str(props.memory),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            runtime_platform=aws.ecs_task_definition.EcsTaskDefinitionRuntimePlatform(
                operating_system_family="LINUX", cpu_architecture=props.cpu_architecture
            ),
            volume=[aws.ecs_task_definition.EcsTaskDefinitionVolume(name=SCRATCH_VOLUME)],
            container_definitions=json.dumps([self._container(props)]),
        )
        self.security_group = aws.security_group.SecurityGroup(
            self,
            "security-group",
            name=f"{props.name}-service",
            vpc_id=props.vpc_id,
            description=f"{props.name} tasks: only the load balancer in, HTTPS to AWS APIs out",
        )
        self.security_group_id = self.security_group.id
        self._network_rules(props)
        load_balancer = None
        if props.target_group_arn:
            load_balancer = [
                aws.ecs_service.EcsServiceLoadBalancer(
                    target_group_arn=props.target_group_arn,
                    container_name=self.container_name,
                    container_port=props.container_port,
                )
            ]
        self.service = aws.ecs_service.EcsService(
            self,
            "service",
            name=props.name,
            cluster=props.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=props.desired_count,
            launch_type=None if props.capacity_provider_strategy else "FARGATE",
            capacity_provider_strategy=[
                aws.ecs_service.EcsServiceCapacityProviderStrategy(capacity_provider=provider, base=base, weight=weight)
                for provider, base, weight in props.capacity_provider_strategy
            ]
            or None,
            platform_version="LATEST",
            enable_execute_command=False,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker=aws.ecs_service.EcsServiceDeploymentCircuitBreaker(enable=True, rollback=True),
            network_configuration=aws.ecs_service.EcsServiceNetworkConfiguration(
                subnets=list(props.subnet_ids), security_groups=[self.security_group.id], assign_public_ip=False
            ),
            load_balancer=load_balancer,
            health_check_grace_period_seconds=props.health_check_grace_seconds if load_balancer else None,
            # Autoscaling owns the count after creation; a plan must not reset it to the initial value.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["desired_count"]),
            depends_on=list(props.depends_on) or None,
        )

    def roll_back_on(self, alarms: list[Any]) -> None:
        """Fail a deployment, and roll it back, when one of ALARMS fires while it runs: the circuit breaker only
        sees tasks that do not start or stay unhealthy (service_deployment_alarms.py says which alarms)."""
        self.service.put_alarms(alarm_names=[alarm.alarm_name for alarm in alarms], enable=True, rollback=True)

    def _container(self, props: FargateServiceProps) -> dict[str, Any]:
        container: dict[str, Any] = {
            "name": self.container_name,
            "image": props.image,
            "essential": True,
            "readonlyRootFilesystem": True,
            "user": props.user,
            "privileged": False,
            "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
            **scratch_environment_and_logs(
                environment=props.environment,
                log_group_name=self.log_group.name,
                region=props.region,
                stream_prefix=props.name,
            ),
        }
        if props.container_port is not None:
            container["portMappings"] = [{"containerPort": props.container_port, "protocol": "tcp"}]
        if props.command:
            container["command"] = list(props.command)
        if props.health_check_command:
            # The start period covers the start-up; three misses in a row (90 s) replace the task.
            container["healthCheck"] = {
                "command": ["CMD", *props.health_check_command],
                "interval": 30,
                "timeout": 5,
                "retries": 3,
                "startPeriod": 60,
            }
        if props.stop_timeout_seconds is not None:
            container["stopTimeout"] = props.stop_timeout_seconds
        return container

    def _network_rules(self, props: FargateServiceProps) -> None:
        group = self.security_group.id
        if props.ingress_security_group_id and props.container_port is not None:
            aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule(
                self,
                "ingress-load-balancer",
                security_group_id=group,
                ip_protocol="tcp",
                from_port=props.container_port,
                to_port=props.container_port,
                referenced_security_group_id=props.ingress_security_group_id,
                description=f"only the load balancer, on {props.container_port}",
            )
        allow_https_to_aws_apis(
            self,
            "egress",
            security_group_id=group,
            vpc_cidr=props.vpc_cidr,
            s3_prefix_list_id=props.s3_prefix_list_id,
            to_internet=props.egress_to_internet,
        )


def _validate(id_: str, props: FargateServiceProps) -> None:
    problems = fargate_size_problems(props.cpu, props.memory)
    problems += container_problems(props)
    problems += aws_api_egress_problems(props.vpc_cidr)
    if props.target_group_arn and props.container_port is None:
        problems.append("target_group_arn needs container_port")
    if props.target_group_arn and props.health_check_grace_seconds is None:
        problems.append("target_group_arn needs health_check_grace_seconds (time to start before checks count)")
    if props.desired_count < 0:
        problems.append(f"desired_count must be >= 0, got {props.desired_count}")
    providers = [provider for provider, _, _ in props.capacity_provider_strategy]
    if set(providers) - {"FARGATE", "FARGATE_SPOT"} or len(set(providers)) != len(providers):
        problems.append(f"capacity_provider_strategy must name FARGATE and/or FARGATE_SPOT once each, got {providers}")
    if props.capacity_provider_strategy and not any(weight > 0 for _, _, weight in props.capacity_provider_strategy):
        problems.append("capacity_provider_strategy needs a weight > 0 on at least one provider")
    if sum(1 for _, base, _ in props.capacity_provider_strategy if base) > 1:
        problems.append("capacity_provider_strategy: only one provider may have a base")
    if props.stop_timeout_seconds is not None and not 2 <= props.stop_timeout_seconds <= FARGATE_STOP_TIMEOUT.value:
        problems.append(
            f"stop_timeout_seconds must be 2-{FARGATE_STOP_TIMEOUT.value}, got {props.stop_timeout_seconds}"
        )
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))


__all__ = ["FargateService", "FargateServiceProps"]
