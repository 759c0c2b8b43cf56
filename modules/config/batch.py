"""Batch inference (`[batch]`): AWS Batch on Fargate Spot and on-demand Fargate runs the inference image in its
batch mode over JSON Lines in S3; POST /v1/batches submits, GET /v1/batches/{id} reports.

Why every knob is checked here: AWS Batch accepts a job definition, a compute environment or an array size it
cannot run only to fail at apply or at submit time (a vCPU/memory pair Fargate lacks, an ARM64 job on Fargate Spot,
an array of 20,000 children). Each limit comes from modules/limits.py and each problem is one line naming the field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from modules.config.base import StrictModel
from modules.config.image_tag import ImageTag, image_tag_problems
from modules.limits import (
    BATCH_ARRAY_SIZE,
    BATCH_JOB_TIMEOUT_MINIMUM,
    BATCH_NAME,
    BATCH_RETRY_ATTEMPTS,
    EVENTBRIDGE_RULE_NAME,
    FARGATE_MEMORY_BY_CPU,
    FARGATE_SPOT_ARCHITECTURES,
    IAM_ROLE_NAME,
    LAMBDA_FUNCTION_NAME,
    LOG_GROUP_NAME,
    MIB,
    S3_MULTIPART_PARTS,
    S3_PRESIGNED_URL_EXPIRY,
    Limit,
    name_problem,
)

# The Lambda functions the batch stack deploys (folders of lambdas/); the compute stack leaves them out.
BATCH_FUNCTIONS = frozenset({"batch_submit", "batch_status"})
# Fargate vCPU values as AWS Batch writes them (resourceRequirements VCPU) -> CPU units of the task sizes.
FARGATE_VCPUS = {units / 1024: units for units in FARGATE_MEMORY_BY_CPU}
# The batch job streams each output object through a multipart upload of parts this large (S3's minimum is 5 MiB).
OUTPUT_PART_BYTES = 8 * MIB
# How much larger an output line may be than its input line: an id-less four-number record of 10 bytes becomes an id
# and three named probabilities of about 130 bytes. With it, one input part always fits one output object.
OUTPUT_GROWTH = 16
GIB = 1024 * MIB


def vcpu_text(vcpu: float) -> str:
    """0.25 -> "0.25", 1.0 -> "1": the form AWS Batch's resourceRequirements take."""
    return f"{vcpu:g}"


class BatchConfig(StrictModel):
    """The batch stack: compute environments, job queue, job definition, the two API functions and limits."""

    enabled: bool = Field(default=False, description="build the batch stack and the /v1/batches routes")
    image: str = Field(
        default="inference",
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="image = folder in containers/ (its ECR repository); it must have a `batch` mode",
    )
    image_tag: ImageTag = Field(
        default="1.0.0", description="tag or sha256:<digest> the job runs (PIPELINE_IMAGE_TAG overrides it at synth)"
    )
    vcpu: float = Field(
        default=1, description=f"vCPUs of one job (Fargate): {', '.join(vcpu_text(v) for v in FARGATE_VCPUS)}"
    )
    memory: int = Field(default=2048, description="memory of one job in MiB; must be one Fargate allows for the vcpu")
    cpu_architecture: Literal["X86_64", "ARM64"] = Field(
        default="X86_64", description="must match the image; Fargate Spot runs X86_64 only (spot_percent = 0 for ARM64)"
    )
    max_vcpus: int = Field(
        default=16,
        ge=1,
        le=100_000,
        description="vCPUs all running jobs may use together (split between Spot and on-demand); "
        "the account's Fargate vCPU quota applies on top",
    )
    spot_percent: int = Field(
        default=100,
        ge=0,
        le=100,
        description="share of max_vcpus on Fargate Spot, tried first; the rest is on-demand "
        "Fargate, used when Spot is full (0: no Spot, 100: Spot only)",
    )
    timeout_minutes: int = Field(
        default=240,
        ge=BATCH_JOB_TIMEOUT_MINIMUM.value // 60,
        le=14 * 24 * 60,
        description="one attempt of one child job is stopped after this long",
    )
    retry_attempts: int = Field(
        default=3,
        ge=BATCH_RETRY_ATTEMPTS.value[0],
        le=BATCH_RETRY_ATTEMPTS.value[1],
        description="attempts per child job, counting the first; only infrastructure failures "
        "(Spot reclaim, host or start failures) are retried",
    )
    max_array_size: int = Field(
        default=100,
        ge=1,
        le=BATCH_ARRAY_SIZE.value[1],
        description="most child jobs one batch fans out to (a request may ask for fewer)",
    )
    part_bytes: int = Field(
        default=64 * MIB,
        ge=MIB,
        le=GIB,
        description="target size of one part: inputs are split at line boundaries near it; a "
        "retried child redoes at most its unfinished parts",
    )
    max_parts: int = Field(default=2000, ge=1, le=10_000, description="most parts one batch may have")
    max_input_bytes: int = Field(default=100 * GIB, ge=MIB, description="largest total input of one batch")
    max_record_bytes: int = Field(
        default=MIB, ge=1024, le=64 * MIB, description="longest input line read as a record; longer ones are errors"
    )
    records_per_call: int = Field(
        default=4096, ge=1, le=100_000, description="records per model call in the job (throughput against memory)"
    )
    upload_url_seconds: int = Field(
        default=3600,
        ge=60,
        le=S3_PRESIGNED_URL_EXPIRY.value,
        description="lifetime of the upload URLs POST /v1/batches hands out",
    )
    max_upload_parts: int = Field(default=100, ge=1, le=10_000, description="most upload URLs one request may ask for")

    @model_validator(mode="after")
    def _combinations(self) -> BatchConfig:
        problems = self.sizing_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def sizing_problems(self) -> list[str]:
        """Fargate sizes, the Spot split and the part arithmetic, each as one line."""
        problems = []
        units = FARGATE_VCPUS.get(self.vcpu)
        if units is None:
            problems.append(
                f"batch.vcpu: {vcpu_text(self.vcpu)} is not a Fargate vCPU value; allowed: "
                f"{', '.join(vcpu_text(v) for v in FARGATE_VCPUS)}"
            )
        elif self.memory not in FARGATE_MEMORY_BY_CPU[units]:
            problems.append(
                f"batch.memory: {self.memory} MiB is not allowed with vcpu {vcpu_text(self.vcpu)}; allowed: "
                f"{', '.join(map(str, FARGATE_MEMORY_BY_CPU[units]))}"
            )
        if self.spot_percent and self.cpu_architecture not in FARGATE_SPOT_ARCHITECTURES.value:
            problems.append(
                f"batch.spot_percent: Fargate Spot runs {', '.join(FARGATE_SPOT_ARCHITECTURES.value)} only "
                f"({FARGATE_SPOT_ARCHITECTURES.doc}), not {self.cpu_architecture}; set spot_percent = 0 "
                'or cpu_architecture = "X86_64"'
            )
        for environment, vcpus in (("Fargate Spot", self.spot_vcpus), ("on-demand Fargate", self.on_demand_vcpus)):
            if vcpus and vcpus < self.vcpu:
                problems.append(
                    f"batch.max_vcpus: its {environment} share of {vcpus} vCPUs (spot_percent "
                    f"{self.spot_percent}) cannot run one job of {vcpu_text(self.vcpu)} vCPUs; raise "
                    "max_vcpus or move spot_percent to 0 or 100"
                )
        if self.part_bytes * OUTPUT_GROWTH > OUTPUT_PART_BYTES * S3_MULTIPART_PARTS.value:
            problems.append(
                f"batch.part_bytes: {self.part_bytes} bytes may produce more output than one object of "
                f"{S3_MULTIPART_PARTS.value} multipart parts of {OUTPUT_PART_BYTES} bytes holds"
            )
        if self.max_input_bytes > self.part_bytes * self.max_parts:
            problems.append(
                f"batch.max_input_bytes: {self.max_input_bytes} bytes in parts of batch.part_bytes "
                f"({self.part_bytes}) need more than batch.max_parts ({self.max_parts}) parts; allowed: at "
                f"most {self.part_bytes * self.max_parts}"
            )
        return problems

    # --- derived values -----------------------------------------------------------------------------------------

    @property
    def spot_vcpus(self) -> int:
        """max_vcpus of the Fargate Spot compute environment (0: none)."""
        return self.max_vcpus * self.spot_percent // 100

    @property
    def on_demand_vcpus(self) -> int:
        """max_vcpus of the on-demand Fargate compute environment (0: none)."""
        return self.max_vcpus - self.spot_vcpus

    @property
    def timeout_seconds(self) -> int:
        return self.timeout_minutes * 60

    # --- names --------------------------------------------------------------------------------------------------

    @staticmethod
    def name(name_prefix: str) -> str:
        """The job queue, the job definition and the log group suffix: `<project>-<environment>-batch`."""
        return f"{name_prefix}-batch"

    @staticmethod
    def rule_name(name_prefix: str) -> str:
        """The EventBridge rule on the job's state changes (the results topic policy names its ARN)."""
        return f"{name_prefix}-batch-state"

    @classmethod
    def rule_arn(cls, partition: str, region: str, account_id: str, name_prefix: str) -> str:
        """The rule's ARN from its name: the messaging stack's topic policy names it before the rule exists."""
        return f"arn:{partition}:events:{region}:{account_id}:rule/{cls.rule_name(name_prefix)}"

    def physical_names(self, name_prefix: str) -> list[tuple[Limit, str, str, str]]:
        """(limit, name, what, pattern) of every name the batch stack builds from the prefix."""
        name, pattern = self.name(name_prefix), "<project>-<environment>-batch"
        names = [
            (BATCH_NAME, name, "job queue and job definition", pattern),
            (EVENTBRIDGE_RULE_NAME, self.rule_name(name_prefix), "EventBridge rule", f"{pattern}-state"),
            (IAM_ROLE_NAME, f"{name}-execution", "IAM role", f"{pattern}-execution"),
            (IAM_ROLE_NAME, f"{name}-job", "IAM role", f"{pattern}-job"),
            (LOG_GROUP_NAME, f"/aws/batch/{name}", "log group", f"/aws/batch/{pattern}"),
        ]
        for folder in sorted(BATCH_FUNCTIONS):
            # As ComputeConfig.function_name builds it (dashes for a package name's underscores).
            dashed = folder.replace("_", "-")
            function, function_pattern = f"{name_prefix}-{dashed}", f"<project>-<environment>-{dashed}"
            names += [
                (LAMBDA_FUNCTION_NAME, function, "Lambda function", function_pattern),
                (IAM_ROLE_NAME, f"{function}-lambda", "IAM role", f"{function_pattern}-lambda"),
            ]
        return names

    def problems(
        self,
        *,
        production: bool,
        name_prefix: str,
        lambdas_in_vpc: bool,
        nat: str,
        interface_endpoints: tuple[str, ...],
        fifo_topics: bool,
    ) -> list[str]:
        """Checks that need other sections: production tags, name lengths, a route to the Batch API, a results topic
        EventBridge can publish to."""
        if not self.enabled:
            return []
        problems = image_tag_problems("batch.image_tag", self.image_tag, production=production)
        for limit, name, what, pattern in self.physical_names(name_prefix):
            problem = name_problem(limit, name, what, pattern, "project, environment")
            if problem:
                problems.append(problem)
        if lambdas_in_vpc and nat == "none" and "batch" not in interface_endpoints:
            problems.append(
                "network.interface_endpoints: the batch functions run in the VPC (compute.lambdas.in_vpc) "
                'without NAT (network.nat = "none") and call the AWS Batch API: add "batch"'
            )
        if fifo_topics:
            problems.append(
                "messaging.fifo_topics: the batch completion message comes from an EventBridge rule, which "
                "needs a standard results topic; set fifo_topics = false or batch.enabled = false"
            )
        return problems
