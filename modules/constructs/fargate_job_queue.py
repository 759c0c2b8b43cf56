"""An AWS Batch job queue over Fargate: a Fargate Spot compute environment tried first, an on-demand Fargate one
when Spot is full (or either alone), both in the given private subnets behind the given security groups.

Why the Spot share is a split of max vCPUs: the queue places a job in the first compute environment (in order)
that has room, so Spot takes jobs up to its own max_vcpus and on-demand takes the rest. Why no compute environment
names: the AWS provider calls the argument `compute_environment_name` up to 5.x and `name` from 6.0, and the stacks
must satisfy both; a generated name also lets Terraform replace an environment before destroying the old one
(`create_before_destroy`), which a fixed name would forbid. Each carries a `Name` tag instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from modules import aws

# At most two of the BATCH_COMPUTE_ENVIRONMENTS_PER_QUEUE (modules/limits.py) a queue may order.
SPOT, ON_DEMAND = "FARGATE_SPOT", "FARGATE"
# The queue has its compute environments to itself, so its priority (which orders queues sharing them) orders
# nothing: a fixed value, not a setting.
PRIORITY = 1


@dataclass(frozen=True, kw_only=True)
class FargateJobQueueProps:
    """The queue's name, where its jobs run and how many vCPUs each kind of capacity may use."""

    name: str  # job queue name; the compute environments are tagged <name>-spot and <name>-on-demand
    subnet_ids: tuple[str, ...] | list[str]  # private subnets
    security_group_ids: tuple[str, ...] | list[str]  # the jobs' security groups (egress only)
    spot_vcpus: int  # max_vcpus of the Fargate Spot environment (0: none)
    on_demand_vcpus: int  # max_vcpus of the on-demand Fargate environment (0: none)
    service_role_arn: str | None = None  # None: AWS Batch's service-linked role (AWSServiceRoleForBatch)


class FargateJobQueue(Construct):
    """Exposes `job_queue` (`.arn`, `.name`), `compute_environments` (kind -> BatchComputeEnvironment, in order)."""

    def __init__(self, scope: Construct, id_: str, *, props: FargateJobQueueProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.compute_environments: dict[str, aws.batch_compute_environment.BatchComputeEnvironment] = {}
        for kind, vcpus, label in ((SPOT, props.spot_vcpus, "spot"), (ON_DEMAND, props.on_demand_vcpus, "on-demand")):
            if vcpus:
                self.compute_environments[kind] = aws.batch_compute_environment.BatchComputeEnvironment(
                    self,
                    label,
                    type="MANAGED",
                    state="ENABLED",
                    service_role=props.service_role_arn,
                    compute_resources=aws.batch_compute_environment.BatchComputeEnvironmentComputeResources(
                        type=kind,
                        max_vcpus=vcpus,
                        subnets=list(props.subnet_ids),
                        security_group_ids=list(props.security_group_ids),
                    ),
                    tags={"Name": f"{props.name}-{label}"},
                    lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
                )
        self.job_queue = aws.batch_job_queue.BatchJobQueue(
            self,
            "job-queue",
            name=props.name,
            state="ENABLED",
            priority=PRIORITY,
            compute_environment_order=[
                aws.batch_job_queue.BatchJobQueueComputeEnvironmentOrder(
                    order=order, compute_environment=environment.arn
                )
                for order, environment in enumerate(self.compute_environments.values(), start=1)
            ],
        )


def _validate(id_: str, props: FargateJobQueueProps) -> None:
    problems = []
    if props.spot_vcpus < 0 or props.on_demand_vcpus < 0 or not (props.spot_vcpus or props.on_demand_vcpus):
        problems.append(
            f"spot_vcpus and on_demand_vcpus must be >= 0 and not both 0, got {props.spot_vcpus} and "
            f"{props.on_demand_vcpus}"
        )
    if not props.subnet_ids:
        problems.append("subnet_ids is required (private subnets)")
    if not props.security_group_ids:
        problems.append("security_group_ids is required")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
