"""The pipeline's buckets: model artifacts, job requests/results, and their access logs."""

from __future__ import annotations

from pydantic import Field

from modules.config.base import StrictModel
from modules.limits import S3_BUCKET_NAME, names_problem

BUCKET_PURPOSES = ("artifacts", "results", "access-logs")


class StorageConfig(StrictModel):
    """Names and retention of the buckets; encryption, versioning, TLS-only and logging are always on."""

    bucket_suffix: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,20}[a-z0-9]$",
        description="appended as <project>-<environment>-<purpose>-<suffix> to make names globally unique; "
                    "defaults to the account id (allowed_account_ids[0]) where one is configured")
    results_expiry_days: int = Field(default=30, ge=1, le=3650,
                                     description="days before requests/, results/ and async/ objects expire")
    data_capture_expiry_days: int = Field(
        default=30, ge=1, le=3650,
        description="days before SageMaker data capture (data-capture/ in the results bucket: sampled request "
                    "and response payloads) expires")
    access_log_expiry_days: int = Field(
        default=90, ge=1, le=3650,
        description="days before server and load-balancer access logs expire (the storage and state stacks' "
                    "access-log buckets)")
    noncurrent_version_days: int = Field(default=30, ge=1, le=3650,
                                         description="days overwritten or deleted object versions are kept")
    force_destroy: bool = Field(default=False,
                                description="let `destroy` empty the buckets (eases local teardown; never in prod)")

    def bucket_name(self, name_prefix: str, purpose: str, account_id: str | None = None) -> str:
        """`<project>-<environment>-<purpose>[-<suffix>]`; the suffix is bucket_suffix, else the account id."""
        return "-".join(part for part in (name_prefix, purpose, self.bucket_suffix or account_id) if part)

    def problems(self, name_prefix: str, account_id: str | None = None) -> list[str]:
        """Checks that need the name prefix: every bucket name must fit S3's 63 characters; the message leads with
        the settings the names are made of."""
        names = [self.bucket_name(name_prefix, purpose, account_id) for purpose in BUCKET_PURPOSES]
        if self.bucket_suffix:
            settings, pattern, fix = ("project, environment, storage.bucket_suffix",
                                      "<project>-<environment>-<purpose>-<storage.bucket_suffix>", None)
        elif account_id:
            settings, pattern = "project, environment, allowed_account_ids", \
                "<project>-<environment>-<purpose>-<allowed_account_ids[0]>"
            fix = "shorten project or environment, or set a shorter storage.bucket_suffix (it replaces the account id)"
        else:
            settings, pattern, fix = "project, environment", "<project>-<environment>-<purpose>", None
        problem = names_problem(S3_BUCKET_NAME, names, "bucket", pattern, settings, fix=fix)
        return [problem] if problem else []
