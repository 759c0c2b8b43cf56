"""An ECS cluster with Container Insights, ECS Exec sessions (when anyone enables them) logged encrypted, and the
FARGATE and FARGATE_SPOT capacity providers attached.

Why configure Exec logging although the services keep Exec off: a cluster-level setting means a later
`enable_execute_command = true` cannot open unaudited shells into model containers.
Why attach both providers with an on-demand default: a service may only name providers its cluster has (the queue
worker runs mostly on Spot), and a service that names neither a launch type nor a strategy stays on on-demand.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.encrypted_log_group import encrypted_log_group, log_group_problems


@dataclass(frozen=True, kw_only=True)
class EcsClusterProps:
    """The cluster's name, key and log retention."""

    name: str  # cluster name
    kms_key_arn: str  # CMK for Exec sessions and their log group
    log_retention_days: int  # retention of the Exec audit log group


CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


class EcsCluster(Construct):
    """Exposes `cluster`, `arn`, `name`, `exec_log_group`, `capacity_providers` (services on a capacity-provider
    strategy depend on it)."""

    def __init__(self, scope: Construct, id_: str, *, props: EcsClusterProps) -> None:
        super().__init__(scope, id_)
        problems = log_group_problems("log_retention_days", props.log_retention_days)
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        self.exec_log_group = encrypted_log_group(
            self,
            "exec-log-group",
            name=f"/ecs/{props.name}/exec",
            retention_days=props.log_retention_days,
            kms_key_arn=props.kms_key_arn,
        )
        self.cluster = aws.ecs_cluster.EcsCluster(
            self,
            "cluster",
            name=props.name,
            setting=[aws.ecs_cluster.EcsClusterSetting(name="containerInsights", value="enabled")],
            configuration=aws.ecs_cluster.EcsClusterConfiguration(
                execute_command_configuration=aws.ecs_cluster.EcsClusterConfigurationExecuteCommandConfiguration(
                    kms_key_id=props.kms_key_arn,
                    logging="OVERRIDE",
                    log_configuration=aws.ecs_cluster.EcsClusterConfigurationExecuteCommandConfigurationLogConfiguration(
                        cloud_watch_encryption_enabled=True, cloud_watch_log_group_name=self.exec_log_group.name
                    ),
                )
            ),
        )
        self.capacity_providers = aws.ecs_cluster_capacity_providers.EcsClusterCapacityProviders(
            self,
            "capacity-providers",
            cluster_name=self.cluster.name,
            capacity_providers=list(CAPACITY_PROVIDERS),
            default_capacity_provider_strategy=[
                aws.ecs_cluster_capacity_providers.EcsClusterCapacityProvidersDefaultCapacityProviderStrategy(
                    capacity_provider="FARGATE", base=0, weight=1
                )
            ],
        )
        self.arn = self.cluster.arn
        self.name = props.name
