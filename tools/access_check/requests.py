"""The unit of evaluation: one principal asking for one IAM action on one resource, with the request context
AWS supplies, and where the request comes from (a recorded call, a declared service call, or a rule derived
from one of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RECORDED, DECLARED, DERIVED = "recorded", "declared", "derived"


@dataclass(frozen=True)
class Request:
    principal: str  # a role ARN, or a service principal such as sns.amazonaws.com
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    source: str = RECORDED
    origin: str = ""  # "worker: s3:HeadObject results/${JOB_ID}.json", "service call sns-delivers-to-queues"
    why: str = ""

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.principal, self.action, self.resource, tuple(sorted((k, str(v)) for k, v in self.context.items())))


def is_service_principal(principal: str) -> bool:
    return not principal.startswith("arn:") and principal.endswith(".amazonaws.com")


def with_common_context(request: Request, account: str, region: str) -> Request:
    """Add the keys AWS puts in every request of this kind: TLS (the SDKs and services only speak HTTPS), the
    requested region, and who the principal is."""
    common: dict[str, Any] = {"aws:SecureTransport": "true", "aws:RequestedRegion": region}
    if is_service_principal(request.principal):
        common["aws:PrincipalServiceName"] = request.principal
        common["aws:PrincipalIsAWSService"] = "true"
    else:
        common.update(
            {
                "aws:PrincipalArn": request.principal,
                "aws:PrincipalAccount": account,
                "aws:PrincipalType": "AssumedRole",
                "aws:PrincipalIsAWSService": "false",
            }
        )
        if request.action.startswith("kms:"):
            common["kms:CallerAccount"] = account
        if request.action.startswith("s3:"):
            # What every SDK request to S3 carries: SigV4 in headers, over TLS 1.2 or later.
            common.update(
                {"s3:TlsVersion": "1.2", "s3:authType": "REST-HEADER", "s3:signatureversion": "AWS4-HMAC-SHA256"}
            )
    return Request(
        request.principal,
        request.action,
        request.resource,
        {**common, **request.context},
        request.source,
        request.origin,
        request.why,
    )
