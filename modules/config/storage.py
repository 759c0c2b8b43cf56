"""The pipeline's buckets: model artifacts, job requests/results, and their access logs."""

from __future__ import annotations

from pydantic import Field

from modules.config.base import StrictModel

BUCKET_PURPOSES = ("artifacts", "results", "access-logs")
MAX_BUCKET_NAME = 63


class StorageConfig(StrictModel):
    """Names and retention of the buckets; encryption, versioning, TLS-only and logging are always on."""

    bucket_suffix: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,20}[a-z0-9]$",
        description="appended as <project>-<environment>-<purpose>-<suffix> to make names globally unique")
    results_expiry_days: int = Field(default=30, ge=1, le=3650,
                                     description="days before requests/ and results/ objects expire")
    noncurrent_version_days: int = Field(default=30, ge=1, le=3650,
                                         description="days overwritten or deleted object versions are kept")
    force_destroy: bool = Field(default=False,
                                description="let `destroy` empty the buckets (eases local teardown; never in prod)")

    def bucket_name(self, name_prefix: str, purpose: str) -> str:
        """`<project>-<environment>-<purpose>[-<suffix>]`."""
        return "-".join(part for part in (name_prefix, purpose, self.bucket_suffix) if part)

    def problems(self, name_prefix: str) -> list[str]:
        """Checks that need the name prefix: every bucket name must fit S3's 63 characters."""
        too_long = [self.bucket_name(name_prefix, purpose) for purpose in BUCKET_PURPOSES
                    if len(self.bucket_name(name_prefix, purpose)) > MAX_BUCKET_NAME]
        if too_long:
            return [(f"storage.bucket_suffix: bucket name(s) {', '.join(too_long)} longer than {MAX_BUCKET_NAME} "
                     "characters; shorten the suffix, project or environment")]
        return []
