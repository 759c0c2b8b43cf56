"""The storage stack: model artifacts, job requests/results and their access logs, under one CMK.

Bucket names are `<project>-<environment>-<purpose>[-<suffix>]`, the suffix being `storage.bucket_suffix` or else
the account id (S3 names are global). Nothing is kept forever: in the results bucket, `requests/` and `results/`
(the key layout of lambdas/contract.py), batch inputs (`batch-inputs/`) and the async `async/input/`, `async/output/` and `async/failure/` expire after
`storage.results_expiry_days`, data capture (`data-capture/`, sampled payloads) after
`storage.data_capture_expiry_days`; the whole access-log bucket after `storage.access_log_expiry_days`.
"""

from __future__ import annotations

from constructs import Construct

from lambdas.contract import BATCH_INPUTS_PREFIX, REQUESTS_PREFIX, RESULTS_PREFIX
from modules import aws
from modules.config import PipelineConfig
from modules.constructs.policy_statements import statement
from modules.constructs.secure_bucket import ExpiryRule, SecureBucket, SecureBucketProps
from modules.stacks.base import PipelineStack
from modules.stacks.inference import (
    ASYNC_FAILURE_PREFIX,
    ASYNC_INPUT_PREFIX,
    ASYNC_OUTPUT_PREFIX,
    DATA_CAPTURE_PREFIX,
)

# Where load balancers write their access logs in the access-log bucket (the compute stack uses it).
LOAD_BALANCER_LOG_PREFIX = "alb"


class StorageStack(PipelineStack):
    """Exposes `key`, `artifacts_bucket`, `results_bucket`, `access_logs_bucket` (SecureBucket: .arn .id .name)."""

    def __init__(self, scope: Construct, id_: str = "storage", *, config: PipelineConfig) -> None:
        super().__init__(scope, id_, config=config)
        storage = config.storage
        prefix, account_id = config.name_prefix, config.account_id
        self.key = self.customer_key(
            "storage-key",
            alias=f"{prefix}-storage",
            description=f"model artifacts, requests and results of {prefix}",
            for_logs=False,
        )
        access_logs_name = storage.bucket_name(prefix, "access-logs", account_id)
        self.access_logs_bucket = SecureBucket(
            self,
            "access-logs",
            props=SecureBucketProps(
                bucket_name=access_logs_name,
                log_target=True,
                account_id=self.account_id,
                partition=self.partition,
                force_destroy=storage.force_destroy,
                noncurrent_version_days=storage.noncurrent_version_days,
                expiry_rules=(ExpiryRule(id="expire-access-logs", prefix="", days=storage.access_log_expiry_days),),
                extra_policy_statements=(self._load_balancer_log_delivery(access_logs_name),),
            ),
        )
        common = {
            "kms_key_arn": self.key.arn,
            "access_log_bucket": self.access_logs_bucket.id,
            "partition": self.partition,
            "force_destroy": storage.force_destroy,
            "noncurrent_version_days": storage.noncurrent_version_days,
        }
        self.artifacts_bucket = SecureBucket(
            self,
            "artifacts",
            props=SecureBucketProps(bucket_name=storage.bucket_name(prefix, "artifacts", account_id), **common),
        )
        # Every prefix anything writes to, whatever the inference mode: switching modes leaves no data behind.
        results_days, capture_days = storage.results_expiry_days, storage.data_capture_expiry_days
        self.results_bucket = SecureBucket(
            self,
            "results",
            props=SecureBucketProps(
                bucket_name=storage.bucket_name(prefix, "results", account_id),
                **common,
                expiry_rules=(
                    ExpiryRule(id="expire-requests", prefix=REQUESTS_PREFIX, days=results_days),
                    ExpiryRule(id="expire-results", prefix=RESULTS_PREFIX, days=results_days),
                    ExpiryRule(id="expire-async-input", prefix=ASYNC_INPUT_PREFIX, days=results_days),
                    ExpiryRule(id="expire-async-output", prefix=ASYNC_OUTPUT_PREFIX, days=results_days),
                    ExpiryRule(id="expire-async-failure", prefix=ASYNC_FAILURE_PREFIX, days=results_days),
                    ExpiryRule(id="expire-data-capture", prefix=DATA_CAPTURE_PREFIX, days=capture_days),
                    # Batch inputs (uploads and copies) are transit data like the requests they replace.
                    ExpiryRule(id="expire-batch-inputs", prefix=BATCH_INPUTS_PREFIX, days=results_days),
                ),
            ),
        )

        self.output("storage_kms_key_arn", self.key.arn, "CMK of the buckets (consumers need kms:Decrypt on it)")
        for purpose, bucket in (
            ("artifacts", self.artifacts_bucket),
            ("results", self.results_bucket),
            ("access_logs", self.access_logs_bucket),
        ):
            self.output(f"{purpose}_bucket_name", bucket.id, f"name of the {purpose.replace('_', ' ')} bucket")
            self.output(f"{purpose}_bucket_arn", bucket.arn, f"ARN of the {purpose.replace('_', ' ')} bucket")

    def _load_balancer_log_delivery(self, bucket_name: str):
        """ALB access logs (compute stack) land under `alb/<load balancer>/AWSLogs/<account>/`. Regions older than
        August 2022 deliver as the region's Elastic Load Balancing account, newer ones as the log-delivery service:
        both may write there only, and only under this account's `AWSLogs/` folder, as AWS's example policy has it
        (the delivery principals are shared by every AWS customer, so a wider path would accept other accounts'
        load balancers' logs).
        """
        elb_account = aws.data_aws_elb_service_account.DataAwsElbServiceAccount(self, "elb-account")
        return statement(
            "LoadBalancerAccessLogDelivery",
            ["s3:PutObject"],
            [f"arn:{self.partition}:s3:::{bucket_name}/{LOAD_BALANCER_LOG_PREFIX}/*/AWSLogs/{self.account_id}/*"],
            principals={"AWS": [elb_account.arn], "Service": ["logdelivery.elasticloadbalancing.amazonaws.com"]},
        )
