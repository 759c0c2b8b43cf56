"""The Lambda functions built from lambdas/: runtime, sizing per function, network placement, worker batching.

Why reserved concurrency is opt-in: a reservation is taken from the account's pool, and Lambda refuses any that
would leave fewer than 100 unreserved executions
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). New accounts can start with a quota
as low as 10, where any reservation fails at apply. Set it per function where a cap protects something (the model
endpoint, a downstream database) or a floor guarantees capacity, on accounts whose quota leaves room.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

import lambdas
from lambdas.contract import JOB_OVERHEAD_SECONDS
from modules.config.base import StrictModel
from modules.config.batch import BATCH_FUNCTIONS
from modules.limits import LAMBDA_TIMEOUT, SQS_EVENT_SOURCE_MAX_CONCURRENCY

LAMBDAS_DIR = Path(lambdas.__file__).resolve().parent


def handler_folders(lambdas_dir: Path = LAMBDAS_DIR) -> tuple[str, ...]:
    """The functions the compute stack builds: every folder of lambdas/ with a handler.py (sorted), but the batch
    stack's own (BATCH_FUNCTIONS)."""
    return tuple(
        sorted(p.parent.name for p in lambdas_dir.glob("*/handler.py") if p.parent.name not in BATCH_FUNCTIONS)
    )


class FunctionConfig(StrictModel):
    """Sizing of one function (Lambda's own limits)."""

    memory_mb: int = Field(default=256, ge=128, le=10240, description="memory in MB (128-10240); CPU scales with it")
    timeout_seconds: int = Field(
        default=25,
        ge=1,
        le=LAMBDA_TIMEOUT.value,
        description="timeout in seconds (1-900); functions behind the API must end under api.integration_timeout_ms",
    )
    reserved_concurrency: int | None = Field(
        default=None,
        ge=0,
        le=10000,
        description="concurrent executions reserved for (and capped at) this function; unset: no reservation. "
        "Lambda refuses a reservation that leaves the account under 100 unreserved executions, so "
        "new accounts (quota as low as 10) cannot reserve at all; 0 stops every invocation",
    )


# The worker handles a batch of jobs (one model call each): more memory, hence more CPU, for JSON work. Its timeout
# stays 30 s so the default 180 s queue visibility timeout is the required 6x; the default batch of 2 jobs fits
# it with the default model timeout (2 x (10 s + 2 s) = 24 s, checked at synth).
DEFAULT_FUNCTIONS = {"worker": FunctionConfig(timeout_seconds=30, memory_mb=512)}


class LambdaConfig(StrictModel):
    """Every function in lambdas/ (a folder with handler.py) becomes one Lambda function."""

    runtime: Literal["python3.12", "python3.13"] = Field(default="python3.12", description="Lambda Python runtime")
    architecture: Literal["arm64", "x86_64"] = Field(default="arm64", description="Graviton (arm64) costs less")
    in_vpc: bool = Field(default=True, description="run in the private subnets behind a security group")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="LOG_LEVEL of every Lambda function (the image's containers: inference.log_level)"
    )
    max_payload_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="largest accepted request body of submit, predict and the worker's model call; default: the "
        "largest AWS carries on each route (docs/security.md: Payload limits); a larger value stops synth",
    )
    defaults: FunctionConfig = Field(default_factory=FunctionConfig, description="sizing of functions not listed")
    functions: dict[str, FunctionConfig] = Field(
        default_factory=lambda: dict(DEFAULT_FUNCTIONS),
        description="per-function sizing keyed by folder name in lambdas/; replaces the defaults for that function",
    )
    worker_queues: tuple[str, ...] | None = Field(
        default=None,
        description="work queues the worker function consumes; default: every work queue not "
        "consumed by the Fargate queue worker",
    )
    worker_batch_size: int = Field(
        default=2,
        ge=1,
        le=10000,
        description="messages per worker invocation (above 10 needs a batching window); the jobs of a batch run one "
        f"after another, so batch x (model timeout + {JOB_OVERHEAD_SECONDS} s) must be less than the worker's timeout",
    )
    worker_batching_window_seconds: int = Field(default=0, ge=0, le=300, description="seconds to wait to fill a batch")
    worker_maximum_concurrency: int = Field(
        default=5,
        ge=SQS_EVENT_SOURCE_MAX_CONCURRENCY.value[0],
        le=SQS_EVENT_SOURCE_MAX_CONCURRENCY.value[1],
        description="concurrent worker invocations per queue (SQS scaling_config); with a reserved_concurrency for "
        "the worker, the sum over its queues may not exceed the reservation (checked at synth)",
    )

    def sizing(self, function: str) -> FunctionConfig:
        """The sizing of FUNCTION: its own entry, else the defaults."""
        return self.functions.get(function, self.defaults)

    def sizing_field(self, function: str, setting: str) -> str:
        """The config field that sets FUNCTION's SETTING (its own entry, else the defaults), for error messages."""
        entry = f"functions.{function}" if function in self.functions else "defaults"
        return f"compute.lambdas.{entry}.{setting}"

    def timeout_field(self, function: str) -> str:
        """The config field that sets FUNCTION's timeout, for error messages."""
        return self.sizing_field(function, "timeout_seconds")
