"""A Lambda function with everything it needs and nothing more: its own role scoped to exact ARNs, its own log
group with finite retention under a customer key, X-Ray active, KMS-encrypted environment, optional reserved
concurrency, and optionally a place in the VPC's private subnets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from modules import aws
from modules.constructs.encrypted_log_group import encrypted_log_group, log_group_problems
from modules.constructs.policy_statements import Condition, statement
from modules.constructs.service_roles import assume_role_policy, role_with_policy

LAMBDA_MEMORY_MB = (128, 10240)
LAMBDA_TIMEOUT_SECONDS = (1, 900)
PYTHON_RUNTIMES = ("python3.12", "python3.13")
ARCHITECTURES = ("arm64", "x86_64")


@dataclass(frozen=True, kw_only=True)
class LambdaFunctionProps:
    """One function: code, sizing, environment, grants and network placement."""

    function_name: str  # physical name; the log group is /aws/lambda/<function_name>
    handler: str  # e.g. lambdas.submit.handler.handler
    package_path: str  # the zip (LambdaPackage.path: relative to the stack folder)
    source_code_hash: str  # base64 SHA-256 of the zip (LambdaPackage.source_code_hash)
    kms_key_arn: str  # CMK encrypting the environment variables and the log group
    account_id: str  # scopes the VPC network-interface grants
    region: str
    partition: str = "aws"
    runtime: str = "python3.12"  # one of PYTHON_RUNTIMES
    architecture: str = "arm64"  # one of ARCHITECTURES (Graviton: cheaper per ms)
    memory_mb: int  # 128-10240
    timeout_seconds: int  # 1-900
    # None: no reservation (Lambda refuses reservations that leave < 100 unreserved); N caps and guarantees N; 0 stops it
    reserved_concurrency: int | None = None
    log_retention_days: int  # one of CloudWatch's retention values
    environment: dict[str, str] = field(default_factory=dict)  # variable names come from lambdas.contract
    policy_statements: tuple[Any, ...] = ()  # policy_statements.statement(...): what the code itself calls
    subnet_ids: tuple[str, ...] | list[str] = ()  # private subnets; empty: outside the VPC
    security_group_ids: tuple[str, ...] | list[str] = ()  # required with subnet_ids
    vpc_id: str | None = None  # the VPC of subnet_ids (required with them): scopes the network-interface grants


class LambdaFunction(Construct):
    """Exposes `function` (`.arn`, `.invoke_arn`, `.function_name`), `name` (plain), `role`, `role_policy`,
    `log_group`."""

    def __init__(self, scope: Construct, id_: str, *, props: LambdaFunctionProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.name = props.function_name
        self.log_group = encrypted_log_group(
            self,
            "log-group",
            name=f"/aws/lambda/{props.function_name}",
            retention_days=props.log_retention_days,
            kms_key_arn=props.kms_key_arn,
        )
        self.role, self.role_policy, _ = role_with_policy(
            self,
            "role",
            name=f"{props.function_name}-lambda",
            description=f"runs the {props.function_name} function: only the actions its code calls",
            trust=assume_role_policy("lambda.amazonaws.com"),
            statements=_statements(props, self.log_group.arn),
            document_id="policy",
        )
        vpc = None
        if props.subnet_ids:
            vpc = aws.lambda_function.LambdaFunctionVpcConfig(
                subnet_ids=list(props.subnet_ids), security_group_ids=list(props.security_group_ids)
            )
        self.function = aws.lambda_function.LambdaFunction(
            self,
            "function",
            function_name=props.function_name,
            role=self.role.arn,
            handler=props.handler,
            runtime=props.runtime,
            architectures=[props.architecture],
            filename=props.package_path,
            source_code_hash=props.source_code_hash,
            memory_size=props.memory_mb,
            timeout=props.timeout_seconds,
            reserved_concurrent_executions=props.reserved_concurrency,
            kms_key_arn=props.kms_key_arn,
            environment=aws.lambda_function.LambdaFunctionEnvironment(variables=dict(sorted(props.environment.items())))
            if props.environment
            else None,
            tracing_config=aws.lambda_function.LambdaFunctionTracingConfig(mode="Active"),
            vpc_config=vpc,
            # The log group (with retention and key) must exist before Lambda would create one without either,
            # and the grants before the first invocation.
            depends_on=[self.log_group, self.role_policy],
        )


def _statements(props: LambdaFunctionProps, log_group_arn: str) -> list:
    statements = [
        statement("OwnLogGroupOnly", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"]),
        # X-Ray has no resource-level permissions: "*" is the only resource these actions accept.
        statement("XRayTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
        statement("DecryptOwnEnvironment", ["kms:Decrypt"], [props.kms_key_arn]),
        *props.policy_statements,
    ]
    if props.subnet_ids:
        statements += _network_interface_statements(props)
    return statements


def _network_interface_statements(props: LambdaFunctionProps) -> list:
    """The network interfaces Lambda manages with the function's role, scoped per resource type by the condition
    keys that type carries in the request (Service Authorization Reference, Amazon EC2:
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html).

    CreateNetworkInterface names three resources: the new `network-interface` (it carries no ec2:Subnet or ec2:Vpc:
    a condition on them would never match), the `subnet` and the `security-group` (both carry ec2:Vpc). The
    other actions act on an existing `network-interface`, which carries ec2:Subnet and ec2:Vpc.
    """
    arn = f"arn:{props.partition}:ec2:{props.region}:{props.account_id}"
    in_vpc = Condition("ArnEquals", "ec2:Vpc", (f"{arn}:vpc/{props.vpc_id}",))
    in_subnets = Condition("ArnEquals", "ec2:Subnet", tuple(f"{arn}:subnet/{subnet}" for subnet in props.subnet_ids))
    return [
        statement("VpcInterfacesCreate", ["ec2:CreateNetworkInterface"], [f"{arn}:network-interface/*"]),
        statement(
            "VpcInterfacesCreateInOwnSubnets",
            ["ec2:CreateNetworkInterface"],
            [
                *(f"{arn}:subnet/{subnet}" for subnet in props.subnet_ids),
                *(f"{arn}:security-group/{group}" for group in props.security_group_ids),
            ],
            conditions=(in_vpc,),
        ),
        statement(
            "VpcInterfacesManage",
            ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            [f"{arn}:network-interface/*"],
            conditions=(in_vpc, in_subnets),
        ),
        # Describe calls have no resource-level permissions.
        statement("VpcInterfacesDescribe", ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], ["*"]),
    ]


def _validate(id_: str, props: LambdaFunctionProps) -> None:
    problems = []
    low, high = LAMBDA_MEMORY_MB
    if not low <= props.memory_mb <= high:
        problems.append(f"memory_mb must be {low}-{high}, got {props.memory_mb}")
    low, high = LAMBDA_TIMEOUT_SECONDS
    if not low <= props.timeout_seconds <= high:
        problems.append(f"timeout_seconds must be {low}-{high}, got {props.timeout_seconds}")
    if props.runtime not in PYTHON_RUNTIMES:
        problems.append(f"runtime must be one of {', '.join(PYTHON_RUNTIMES)}, got {props.runtime!r}")
    if props.architecture not in ARCHITECTURES:
        problems.append(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {props.architecture!r}")
    if props.reserved_concurrency is not None and props.reserved_concurrency < 0:
        problems.append(f"reserved_concurrency must be >= 0, got {props.reserved_concurrency}")
    problems += log_group_problems("log_retention_days", props.log_retention_days)
    if not (bool(props.subnet_ids) == bool(props.security_group_ids) == bool(props.vpc_id)):
        problems.append("subnet_ids, security_group_ids and vpc_id go together (all set to run in the VPC, or none)")
    if not props.kms_key_arn:
        problems.append("kms_key_arn is required (environment and logs under a customer key)")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
