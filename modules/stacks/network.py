"""The network stack: one VPC over 2-3 AZs, NAT as configured, VPC endpoints and encrypted flow logs."""

from __future__ import annotations

from constructs import Construct

from modules.config import PipelineConfig
from modules.constructs.flow_logs import VpcFlowLogs, VpcFlowLogsProps
from modules.constructs.vpc import Vpc, VpcProps
from modules.constructs.vpc_endpoints import VpcEndpoints, VpcEndpointsProps
from modules.stacks.base import PipelineStack


class NetworkStack(PipelineStack):
    """Exposes `vpc_id`, `vpc_cidr`, `private_subnet_ids`, `public_subnet_ids`, `endpoint_security_group_id`."""

    def __init__(self, scope: Construct, id_: str = "network", *, config: PipelineConfig) -> None:
        super().__init__(scope, id_, config=config)
        network = config.network
        prefix = config.name_prefix
        self.network = Vpc(
            self,
            "vpc",
            props=VpcProps(name=prefix, cidr=network.cidr, subnets=network.subnet_plan(config.region), nat=network.nat),
        )
        self.vpc_id = self.network.vpc_id
        self.vpc_cidr = self.network.vpc_cidr
        self.private_subnet_ids = self.network.private_subnet_ids
        self.public_subnet_ids = self.network.public_subnet_ids

        self.endpoints = VpcEndpoints(
            self,
            "endpoints",
            props=VpcEndpointsProps(
                name=prefix,
                vpc_id=self.vpc_id,
                vpc_cidr=network.cidr,
                region=config.region,
                private_subnet_ids=tuple(self.private_subnet_ids),
                private_route_table_ids=tuple(self.network.private_route_table_ids),
                s3_gateway=network.s3_gateway_endpoint,
                interface_services=network.interface_endpoints,
            ),
        )
        self.endpoint_security_group_id = self.endpoints.security_group_id

        self.flow_logs = None
        if network.flow_logs:
            key = self.customer_key(
                "flow-logs-key",
                alias=f"{prefix}-flow-logs",
                description=f"VPC flow logs of {prefix}",
            )
            self.flow_logs = VpcFlowLogs(
                self,
                "flow-logs",
                props=VpcFlowLogsProps(
                    vpc_id=self.vpc_id,
                    log_group_name=f"/aws/vpc/{prefix}/flow-logs",
                    retention_days=network.flow_logs_retention_days or config.log_retention_days,
                    max_aggregation_interval=network.flow_logs_aggregation_seconds,
                    kms_key_arn=key.arn,
                    role_name=network.flow_logs_role_name(prefix),
                    account_id=self.account_id,
                    region=config.region,
                    partition=self.partition,
                ),
            )
            key.allow_log_group(self.flow_logs.log_group)

        self.output("vpc_id", self.vpc_id, "the pipeline's VPC")
        self.output("vpc_cidr", self.vpc_cidr, "address range of the VPC (the only source the endpoints admit)")
        self.output(
            "private_subnet_ids", self.private_subnet_ids, "one private subnet per AZ: every workload runs here"
        )
        self.output(
            "public_subnet_ids", self.public_subnet_ids, "one public subnet per AZ: load balancers and NAT only"
        )
        self.output(
            "endpoint_security_group_id",
            self.endpoint_security_group_id,
            "security group of the interface VPC endpoints (HTTPS from the VPC CIDR)",
        )
