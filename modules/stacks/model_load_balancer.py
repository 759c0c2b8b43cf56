"""The model server's application load balancer, the same whichever orchestrator runs the model server.

Why one function: the compute stack (Fargate) and the eks stack put the same load balancer in front of the same
image: the config's load balancer section, the access logs, the SageMaker container contract's port and health
check, deletion protection on in production. Written twice, a setting added to one would miss the other. It creates
the balancer in the calling stack under the id `load-balancer`, so each keeps its Terraform addresses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdas import contract
from modules.constructs.application_load_balancer import ApplicationLoadBalancer, ApplicationLoadBalancerProps
from modules.stacks.storage import LOAD_BALANCER_LOG_PREFIX

if TYPE_CHECKING:
    from modules.stacks.base import PipelineStack
    from modules.stacks.compute import InferenceService
    from modules.stacks.network import NetworkStack
    from modules.stacks.storage import StorageStack


def model_load_balancer(
    stack: PipelineStack,
    *,
    network: NetworkStack,
    storage: StorageStack,
    subnet_ids: list[str],
    target_group_tags: dict[str, str] | None = None,
) -> ApplicationLoadBalancer:
    """The balancer of `compute.load_balancer` in STACK, in SUBNET_IDS, its access logs under the service's name."""
    config = stack.config
    balancer = config.compute.load_balancer
    name = config.compute.inference_service_name(config.name_prefix)
    return ApplicationLoadBalancer(
        stack,
        "load-balancer",
        props=ApplicationLoadBalancerProps(
            name=name,
            vpc_id=network.vpc_id,
            vpc_cidr=network.vpc_cidr,
            subnet_ids=subnet_ids,
            access_log_bucket=storage.access_logs_bucket.id,
            access_log_prefix=f"{LOAD_BALANCER_LOG_PREFIX}/{name}",
            internal=balancer.internal,
            certificate_arn=balancer.certificate_arn,
            ssl_policy=balancer.ssl_policy,
            target_port=contract.MODEL_SERVER_PORT,
            health_check_path=contract.HEALTH_CHECK_PATH,
            deletion_protection=config.production
            if balancer.deletion_protection is None
            else balancer.deletion_protection,
            idle_timeout_seconds=balancer.idle_timeout_seconds,
            target_group_tags=target_group_tags or {},
        ),
    )


def model_load_balancer_outputs(stack: PipelineStack, service: InferenceService) -> None:
    """The outputs the API stack and the operators read, the same names whichever stack owns the balancer."""
    stack.output(
        "inference_load_balancer_dns",
        service.load_balancer.dns_name,
        "DNS name of the inference service's load balancer",
    )
    stack.output("inference_listener_arn", service.listener_arn, "listener the API's VPC link integrates with")
