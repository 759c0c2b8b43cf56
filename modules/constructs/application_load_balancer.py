"""An application load balancer in front of one HTTP service: internal by default, HTTPS with an HTTP->HTTPS
redirect whenever a certificate is given (always when public), invalid headers dropped, access logs on,
health checks on the service's own health path, and a security group that admits only who may call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from constructs import Construct

from modules import aws
from modules.limits import HTTP_PORT, HTTPS_PORT, LOAD_BALANCER_NAME, TARGET_GROUP_NAME

MAX_NAME = min(LOAD_BALANCER_NAME.value, TARGET_GROUP_NAME.value)  # one name serves both


@dataclass(frozen=True, kw_only=True)
class ApplicationLoadBalancerProps:
    """Where the load balancer lives, who may reach it, and what it forwards to."""

    name: str  # load balancer and target group name (at most 32 characters)
    vpc_id: str
    vpc_cidr: str  # callers (internal) and targets live here
    subnet_ids: tuple[str, ...] | list[str]  # private subnets when internal, public subnets when not
    access_log_bucket: str  # bucket (id) receiving the access logs
    access_log_prefix: str = "alb"
    internal: bool = True  # reachable only from the VPC CIDR
    certificate_arn: str | None = None  # ACM certificate: HTTPS + redirect; required when not internal
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    target_port: int  # the service's container port
    health_check_path: str  # the model server's health check (lambdas/contract.py HEALTH_CHECK_PATH)
    deletion_protection: bool = False  # on in production
    idle_timeout_seconds: int
    target_group_tags: dict[str, str] = field(default_factory=dict)  # e.g. the cluster an EKS controller may bind


class ApplicationLoadBalancer(Construct):
    """Exposes `load_balancer` (`.arn`, `.dns_name`, `.arn_suffix`), `target_group`, `listener_arn`
    (the listener that forwards), `security_group_id`, `port` and `protocol` (what callers use)."""

    def __init__(self, scope: Construct, id_: str, *, props: ApplicationLoadBalancerProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        tls = props.certificate_arn is not None
        self.port = HTTPS_PORT if tls else HTTP_PORT
        self.protocol = "https" if tls else "http"
        self.security_group = aws.security_group.SecurityGroup(
            self,
            "security-group",
            name=f"{props.name}-alb",
            vpc_id=props.vpc_id,
            description=f"{props.name} load balancer: callers in, the service's port out",
        )
        self.security_group_id = self.security_group.id
        callers = props.vpc_cidr if props.internal else "0.0.0.0/0"
        for port in (HTTP_PORT, HTTPS_PORT) if tls else (HTTP_PORT,):
            aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule(
                self,
                f"ingress-{port}",
                security_group_id=self.security_group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=callers,
                description=f"callers ({'VPC' if props.internal else 'internet'}) on {port}",
            )
        aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
            self,
            "egress-targets",
            security_group_id=self.security_group.id,
            ip_protocol="tcp",
            from_port=props.target_port,
            to_port=props.target_port,
            cidr_ipv4=props.vpc_cidr,
            description=f"targets in the VPC on {props.target_port}",
        )

        self.load_balancer = aws.lb.Lb(
            self,
            "load-balancer",
            name=props.name,
            load_balancer_type="application",
            internal=props.internal,
            subnets=list(props.subnet_ids),
            security_groups=[self.security_group.id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=props.deletion_protection,
            idle_timeout=props.idle_timeout_seconds,
            access_logs=aws.lb.LbAccessLogs(
                bucket=props.access_log_bucket, prefix=props.access_log_prefix, enabled=True
            ),
        )
        self.target_group = aws.lb_target_group.LbTargetGroup(
            self,
            "target-group",
            name=props.name,
            target_type="ip",  # Fargate tasks register by IP (awsvpc)
            protocol="HTTP",
            port=props.target_port,
            vpc_id=props.vpc_id,
            deregistration_delay="30",  # gunicorn's graceful timeout is 20 s: in-flight requests finish first
            tags=props.target_group_tags or None,
            health_check=aws.lb_target_group.LbTargetGroupHealthCheck(
                enabled=True,
                path=props.health_check_path,
                protocol="HTTP",
                port="traffic-port",
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
        )
        forward = aws.lb_listener.LbListenerDefaultAction(type="forward", target_group_arn=self.target_group.arn)
        if tls:
            listener = aws.lb_listener.LbListener(
                self,
                "https",
                load_balancer_arn=self.load_balancer.arn,
                port=HTTPS_PORT,
                protocol="HTTPS",
                ssl_policy=props.ssl_policy,
                certificate_arn=props.certificate_arn,
                default_action=[forward],
            )
            aws.lb_listener.LbListener(
                self,
                "http-redirect",
                load_balancer_arn=self.load_balancer.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_action=[
                    aws.lb_listener.LbListenerDefaultAction(
                        type="redirect",
                        redirect=aws.lb_listener.LbListenerDefaultActionRedirect(
                            port=str(HTTPS_PORT), protocol="HTTPS", status_code="HTTP_301"
                        ),
                    )
                ],
            )
        else:
            listener = aws.lb_listener.LbListener(
                self,
                "http",
                load_balancer_arn=self.load_balancer.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_action=[forward],
            )
        self.listener = listener
        self.listener_arn = listener.arn


def _validate(id_: str, props: ApplicationLoadBalancerProps) -> None:
    problems = []
    if len(props.name) > MAX_NAME:
        problems.append(f"name {props.name!r} is longer than {MAX_NAME} characters")
    if not props.internal and not props.certificate_arn:
        problems.append("a public (internal = false) load balancer needs certificate_arn: it serves HTTPS only")
    if not props.health_check_path.startswith("/"):
        problems.append(f"health_check_path must start with '/', got {props.health_check_path!r}")
    if not 1 <= props.target_port <= 65535:
        problems.append(f"target_port must be 1-65535, got {props.target_port}")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
