"""Deploying to the local AWS emulator (moto): where it listens, and which of its gaps to route around.

The flags only take effect while an emulator URL is set (`PIPELINE_EMULATOR_URL`, set by `make deploy-local`),
so `make synth`, the snapshots and every gate still see the full infrastructure of the environment.

Two ways a gap is routed around, both named here and listed in the README (Local loop) with their reason:
- a stack asks `config.emulator.skips("<gap>")` and leaves out or simplifies what the emulator cannot serve;
- a gap in EXCLUDED_RESOURCE_TYPES drops every resource of those Terraform types (`count = 0`, applied by
  the base stack), for resources nothing else refers to.
"""

from __future__ import annotations

from pydantic import Field

from modules.config.base import StrictModel

# Terraform resource types that a gap flag removes from an emulator deploy (only types nothing refers to).
EXCLUDED_RESOURCE_TYPES: dict[str, tuple[str, ...]] = {
    "bucket_access_logging": ("aws_s3_bucket_logging",),
    "redrive_allow_policy": ("aws_sqs_queue_redrive_allow_policy",),
    "bucket_policy": ("aws_s3_bucket_policy",),
}


class EmulatorConfig(StrictModel):
    """Named switches for emulator gaps; each one is listed in the README (Local loop) with its reason."""

    url: str | None = Field(default=None, pattern=r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+/?$",
                            description="set from PIPELINE_EMULATOR_URL at deploy time, not in the file")
    state_directory: str = Field(default="state/emulator", pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
                                 description="folder under the project root for emulator state "
                                             "(<dir>/<environment>-<port>/<stack>.tfstate), apart from real state")
    skip_autoscaling: bool = Field(
        default=False,
        description="moto 5.2.5 lacks Application Auto Scaling ListTagsForResource: Terraform retries scaling "
                    "targets and policies until it times out")
    skip_bucket_access_logging: bool = Field(
        default=False,
        description="moto 5.2.5 answers PutBucketLogging with HTTP 500 when the target bucket's policy has a "
                    "statement with Principal \"*\" (our TLS-only deny); Terraform retries until it times out")
    skip_redrive_allow_policy: bool = Field(
        default=False,
        description="moto 5.2.5 ignores RedriveAllowPolicy in SetQueueAttributes (GetQueueAttributes never returns "
                    "it): Terraform waits for it to appear until it times out")
    skip_bucket_policy: bool = Field(
        default=False,
        description="the emulator speaks plain HTTP and moto enforces bucket policies: the TLS-only deny "
                    "(aws:SecureTransport false) refuses every S3 call of the smoke test with 403")
    skip_async_processing: bool = Field(
        default=False,
        description="moto 5.2.5 answers InvokeEndpointAsync but runs no model, writes no output and publishes no "
                    "notification: the local loop plays the endpoint's part (tools/local/async_endpoint.py)")
    skip_prevent_destroy: bool = Field(
        default=False,
        description="emulator resources are throwaway: lift prevent_destroy (the state bucket) so "
                    "`make destroy-local` can tear everything down")

    @property
    def active(self) -> bool:
        return self.url is not None

    @property
    def port(self) -> int | None:
        """Port of the emulator URL (names its state folder), None when inactive."""
        return int(self.url.rstrip("/").rsplit(":", 1)[1]) if self.url else None

    def skips(self, gap: str) -> bool:
        """True when deploying to the emulator and the flag `skip_<gap>` is on."""
        if f"skip_{gap}" not in type(self).model_fields:
            known = ", ".join(name.removeprefix("skip_") for name in self.gap_flags())
            raise ValueError(f"emulator: unknown gap {gap!r}; known gaps: {known}")
        return self.active and bool(getattr(self, f"skip_{gap}"))

    @classmethod
    def gap_flags(cls) -> list[str]:
        """Every `skip_<gap>` field name, in declaration order."""
        return [name for name in cls.model_fields if name.startswith("skip_")]

    def excluded_resource_types(self) -> set[str]:
        """Terraform resource types left out of this deploy (empty unless the emulator is active)."""
        return {kind for gap, kinds in EXCLUDED_RESOURCE_TYPES.items() if self.skips(gap) for kind in kinds}
