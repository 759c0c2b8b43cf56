"""A SageMaker model: the inference image plus its model.tar.gz, run by a least-privilege role.

Why the name carries a hash of every argument and the model is created before the old one is destroyed: a
SageMaker model cannot be changed in place (every argument forces a replacement) and the live endpoint
configuration still names the old one. A new image tag, artifact version, role, subnet or security group
therefore becomes a new model under a new name next to the old one, then the endpoint moves over, then the old
model goes. The hash is evaluated by Terraform over the real values (see content_hash.py), so a dependency
replaced behind the same reference (a new security group id) renames the model too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cdktf import Fn, TerraformResourceLifecycle, Token
from constructs import Construct

from modules import aws
from modules.constructs.content_hash import HASH_LENGTH, replacement_hash
from modules.limits import SAGEMAKER_NAME

MAX_NAME = SAGEMAKER_NAME.value


@dataclass(frozen=True, kw_only=True)
class SagemakerModelProps:
    """Image, artifact, role and network of the model; the name is derived from all of them."""

    name_prefix: str  # e.g. the endpoint name; the model is <name_prefix>-<hash>
    image_repository_url: str  # ECR repository URL (token)
    image_tag: str  # tag, or sha256:<digest> (then the image is pinned by digest)
    artifact_bucket: str  # bucket name (plain) holding the artifact
    artifact_key: str  # key of model.tar.gz, carrying the model version (models/<name>/<version>/model.tar.gz)
    execution_role_arn: str  # SagemakerExecutionRole.arn
    network_isolation: bool = True  # the container gets no network (the model is local)
    subnet_ids: tuple[str, ...] | list[str] = ()  # private subnets; empty: no VPC attachment
    security_group_ids: tuple[str, ...] | list[str] = ()  # required with subnet_ids
    environment: dict[str, str] = field(default_factory=dict)  # container environment (plain values)
    depends_on: tuple = ()  # e.g. the role's policy: SageMaker checks image and artifact access at creation


class SagemakerModel(Construct):
    """Exposes `model`, `name` (Terraform expression: <prefix>-<hash>), `image`, `model_data_url`."""

    def __init__(self, scope: Construct, id_: str, *, props: SagemakerModelProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        separator = "@" if props.image_tag.startswith("sha256:") else ":"
        # join() rather than an f-string: the repository URL is a reference, and a reference inside a quoted string
        # of the name's jsonencode() is an escape sequence cdktf warns about on every synth.
        reference = f"{separator}{props.image_tag}"
        self.image = (
            Fn.join("", [props.image_repository_url, reference])
            if Token.is_unresolved(props.image_repository_url)
            else props.image_repository_url + reference
        )
        self.model_data_url = f"s3://{props.artifact_bucket}/{props.artifact_key}"
        arguments = model_arguments(props, image=self.image, model_data_url=self.model_data_url)
        self.model = aws.sagemaker_model.SagemakerModel(
            self,
            "model",
            name=f"{props.name_prefix}-{replacement_hash(arguments)}",
            **arguments,
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            depends_on=list(props.depends_on) or None,
        )
        self.name = self.model.name


def model_arguments(props: SagemakerModelProps, *, image: str, model_data_url: str) -> dict[str, object]:
    """Every argument of the model but its name: all of them force a replacement, so all of them are hashed."""
    vpc = bool(props.subnet_ids)
    return {
        "execution_role_arn": props.execution_role_arn,
        "enable_network_isolation": props.network_isolation,
        "primary_container": aws.sagemaker_model.SagemakerModelPrimaryContainer(
            image=image,
            model_data_url=model_data_url,
            mode="SingleModel",
            environment=dict(sorted(props.environment.items())) or None,
        ),
        "vpc_config": aws.sagemaker_model.SagemakerModelVpcConfig(
            subnets=list(props.subnet_ids), security_group_ids=list(props.security_group_ids)
        )
        if vpc
        else None,
    }


def _validate(id_: str, props: SagemakerModelProps) -> None:
    problems = []
    if len(props.name_prefix) > MAX_NAME - HASH_LENGTH - 1:
        problems.append(f"name_prefix must be at most {MAX_NAME - HASH_LENGTH - 1} characters (a -<hash> is appended)")
    if not props.artifact_key.endswith(".tar.gz"):
        problems.append(f"artifact_key must name a .tar.gz archive (SageMaker extracts it), got {props.artifact_key!r}")
    if not props.image_tag:
        problems.append("image_tag is required (an immutable tag or sha256:<digest>)")
    if bool(props.subnet_ids) != bool(props.security_group_ids):
        problems.append("subnet_ids and security_group_ids go together (VPC attachment needs both)")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
