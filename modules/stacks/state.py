"""The bootstrap stack: the bucket (and its key and access-log bucket) that holds dev/prod Terraform state.

It always keeps its own state in a local file: it has to exist before any S3 backend can.
"""

from __future__ import annotations

from constructs import Construct

from modules.config import PipelineConfig
from modules.constructs.kms_key import KmsKey, KmsKeyProps
from modules.constructs.secure_bucket import SecureBucket, SecureBucketProps
from modules.stacks.base import PipelineStack


class StateStack(PipelineStack):
    """Exposes `bucket` (the state bucket) and `key` (its CMK)."""

    def __init__(self, scope: Construct, id_: str = "state", *, config: PipelineConfig) -> None:
        super().__init__(scope, id_, config=config, force_local_backend=True)
        name = config.state_bucket_name
        self.key = KmsKey(self, "state-key", props=KmsKeyProps(
            alias=f"{config.name_prefix}-tfstate", description=f"Terraform state of {config.name_prefix}",
            account_id=self.account_id, partition=self.partition))
        self.access_logs = SecureBucket(self, "state-access-logs", props=SecureBucketProps(
            bucket_name=f"{name}-access-logs", log_target=True, account_id=self.account_id,
            partition=self.partition, force_destroy=not config.production,
            noncurrent_version_days=config.state.noncurrent_version_days))
        self.bucket = SecureBucket(self, "state-bucket", props=SecureBucketProps(
            bucket_name=name, kms_key_arn=self.key.arn, access_log_bucket=self.access_logs.id,
            prevent_destroy=True, noncurrent_version_days=config.state.noncurrent_version_days))
        self.output("state_bucket", self.bucket.id, "bucket to name in the s3 backend of dev/prod environments")
        self.output("state_kms_key_arn", self.key.arn, "CMK encrypting the state objects (backend.kms_key_id)")
