"""The public HTTP API (API Gateway v2): which backend answers /v1/predict, who may call, how fast, and alarms.

Why authorization has no "off by default": an inference API bills per call and may leak model outputs, so the
default is IAM (SigV4); `auth = "none"` exists for local experiments only and is refused in production.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from modules.config.base import StrictModel
from modules.limits import API_GATEWAY_HTTP_INTEGRATION_TIMEOUT

# The routes are fixed; these answer with a Lambda function (the folder in lambdas/), the predict route only with
# predict_backend = "lambda". The compute stack deploys a routed function only while its route uses it.
PREDICT_ROUTE = ("POST", "/v1/predict")
JOB_ROUTES = {("POST", "/v1/jobs"): "submit", ("GET", "/v1/jobs/{id}"): "status"}
ROUTED_FUNCTIONS = frozenset({"predict", *JOB_ROUTES.values()})
# Backends that answer /v1/predict with the inference service through the VPC link (on ECS Fargate or on EKS).
SERVICE_BACKENDS = frozenset({"fargate", "eks"})
ORIGIN_PATTERN = r"^https://[A-Za-z0-9.-]+(:\d{1,5})?$|^http://(localhost|127\.0\.0\.1)(:\d{1,5})?$"


class ApiConfig(StrictModel):
    """Routes are fixed (POST /v1/predict, POST /v1/jobs, GET /v1/jobs/{id}); everything around them is here."""

    predict_backend: Literal["lambda", "fargate", "eks"] = Field(
        default="lambda",
        description="POST /v1/predict: the predict Lambda (calls the SageMaker endpoint), or a VPC link to the "
        "internal ALB of the inference service on Fargate (orchestrator ecs) or on EKS (orchestrator eks)",
    )
    auth: Literal["iam", "jwt", "none"] = Field(
        default="iam", description="iam: SigV4-signed calls; jwt: Bearer tokens of jwt_issuer; none: not in production"
    )
    jwt_issuer: str | None = Field(
        default=None,
        pattern=r"^https://\S+$",
        description="[auth = jwt] issuer URL (its /.well-known/openid-configuration)",
    )
    jwt_audience: tuple[str, ...] = Field(default=(), description="[auth = jwt] accepted `aud` values (at least one)")
    cors_allowed_origins: tuple[str, ...] = Field(
        default=(), description="exact origins allowed by CORS (https://..., or http://localhost); empty: no CORS"
    )
    throttling_rate_limit: float = Field(
        default=50, ge=1, le=10_000, description="steady-state requests per second of the stage"
    )
    throttling_burst_limit: int = Field(default=100, ge=1, le=5_000, description="burst of requests of the stage")
    integration_timeout_ms: int = Field(
        default=29_000,
        ge=50,
        le=API_GATEWAY_HTTP_INTEGRATION_TIMEOUT.value,
        description="how long API Gateway waits for a backend: 50-30000, an HTTP API's fixed maximum "
        f"({API_GATEWAY_HTTP_INTEGRATION_TIMEOUT.doc}); functions behind it must end 2 s earlier",
    )
    alarm_5xx_rate_percent: float = Field(
        default=1.0, gt=0, le=100, description="share of 5xx responses (per 5 minutes) that raises the alarm"
    )
    alarm_latency_p99_ms: int = Field(
        default=5000,
        ge=1,
        le=30_000,
        description="Latency / IntegrationLatency p99 (milliseconds) that raises the alarm",
    )

    @model_validator(mode="after")
    def _auth_knobs(self) -> ApiConfig:
        problems = []
        if self.auth == "jwt":
            if not self.jwt_issuer:
                problems.append("jwt_issuer: required when auth = 'jwt' (https issuer URL)")
            if not self.jwt_audience:
                problems.append("jwt_audience: required when auth = 'jwt' (at least one audience)")
        else:
            for name in ("jwt_issuer", "jwt_audience"):
                if name in self.model_fields_set:
                    problems.append(f"{name}: applies only to auth = 'jwt', not to auth = {self.auth!r}; remove it")
        for origin in self.cors_allowed_origins:
            if not re.match(ORIGIN_PATTERN, origin):
                problems.append(
                    f"cors_allowed_origins: {origin!r} is not an exact origin; allowed: "
                    "https://host[:port] or http://localhost[:port] (no '*', no path)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def lambda_routes(self) -> dict[tuple[str, str], str]:
        """(method, path) -> the function in lambdas/ that answers it with this config."""
        predict = {PREDICT_ROUTE: "predict"} if self.predict_backend == "lambda" else {}
        return {**predict, **JOB_ROUTES}

    def problems(self, production: bool) -> list[str]:
        """Checks that need the root config."""
        if production and self.auth == "none":
            return ["api.auth: 'none' is refused when production = true; allowed: iam, jwt"]
        return []
