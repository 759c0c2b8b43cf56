"""How a stack builds one function of lambdas/: its package, its sizing from config, its key, its network placement
and exactly the environment and grants the stack says the handler needs.

Why one function: the compute and batch stacks build their functions the same way, and a rule added to one (a
runtime setting, a placement) must reach the other. It creates the package and the function in the calling stack
under the ids `package-<name>` and `function-<name>`, so every function keeps its Terraform address.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lambdas import contract
from modules.constructs.lambda_function import LambdaFunction, LambdaFunctionProps
from modules.constructs.lambda_package import LambdaPackage, LambdaPackageProps

if TYPE_CHECKING:
    from modules.stacks.base import PipelineStack
    from modules.stacks.network import NetworkStack


def pipeline_function(
    stack: PipelineStack,
    name: str,
    *,
    lambdas_dir: Path | None,
    kms_key_arn: str,
    network: NetworkStack,
    security_group_id: str | None,
    environment: dict[str, str],
    statements: list,
) -> LambdaFunction:
    """The function lambdas/NAME/ in STACK: in the private subnets behind SECURITY_GROUP_ID when one is given."""
    config = stack.config
    lambdas = config.compute.lambdas
    sizing = lambdas.sizing(name)
    package_props = {"function": name} | ({"lambdas_dir": lambdas_dir} if lambdas_dir else {})
    package = LambdaPackage(stack, f"package-{name}", props=LambdaPackageProps(**package_props))
    placement = {}
    if security_group_id:
        placement = {
            "subnet_ids": network.private_subnet_ids,
            "vpc_id": network.vpc_id,
            "security_group_ids": [security_group_id],
        }
    return LambdaFunction(
        stack,
        f"function-{name}",
        props=LambdaFunctionProps(
            function_name=config.compute.function_name(config.name_prefix, name),
            handler=f"lambdas.{name}.handler.handler",
            package_path=package.path,
            source_code_hash=package.source_code_hash,
            kms_key_arn=kms_key_arn,
            account_id=stack.account_id,
            region=config.region,
            partition=stack.partition,
            runtime=lambdas.runtime,
            architecture=lambdas.architecture,
            memory_mb=sizing.memory_mb,
            timeout_seconds=sizing.timeout_seconds,
            reserved_concurrency=sizing.reserved_concurrency,
            log_retention_days=config.log_retention_days,
            environment={contract.LOG_LEVEL: lambdas.log_level, **environment},
            policy_statements=tuple(statements),
            **placement,
        ),
    )
