"""An S3 bucket with every protection on: SSE-KMS with bucket keys, versioning, public access blocked,
ACLs disabled, TLS-only policy, server access logging, abort of incomplete uploads, expiry where asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from modules import aws, defaults
from modules.constructs.policy_statements import Condition, deny_insecure_transport, policy_document, statement

HOUSEKEEPING_RULE_ID = "housekeeping"  # the rule every bucket has: incomplete uploads and old versions


@dataclass(frozen=True, kw_only=True)
class ExpiryRule:
    """Delete current objects under PREFIX after DAYS (noncurrent versions follow the bucket setting)."""

    id: str  # rule id shown in the console; unique per bucket
    prefix: str  # "" for the whole bucket; rules of one bucket must not overlap
    days: int  # 1-3650


@dataclass(frozen=True, kw_only=True)
class SecureBucketProps:
    """One bucket's name, key and logging; everything else is the secure default."""

    bucket_name: str  # globally unique bucket name
    kms_key_arn: str | None = None  # CMK for SSE-KMS; required unless log_target
    access_log_bucket: str | None = None  # bucket id receiving this bucket's access logs; required unless log_target
    access_log_prefix: str = ""  # prefix in the log bucket; defaults to "<bucket_name>/"
    log_target: bool = False  # this bucket receives server access logs (SSE-S3: log delivery cannot use KMS)
    account_id: str = ""  # owning account: scopes the log-delivery grant of a log_target bucket
    partition: str = "aws"
    force_destroy: bool = False  # let destroy empty the bucket; never in prod
    prevent_destroy: bool = False  # Terraform refuses any plan that destroys it (state bucket)
    noncurrent_version_days: int  # how long overwritten/deleted versions are kept
    expiry_rules: tuple[ExpiryRule, ...] = ()
    extra_policy_statements: tuple[Any, ...] = ()  # policy_statements.statement(...) grants, e.g. log delivery


class SecureBucket(Construct):
    """Exposes `bucket`, `arn`, `id`, `name`; see SecureBucketProps for the knobs."""

    def __init__(self, scope: Construct, id_: str, *, props: SecureBucketProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        lifecycle = TerraformResourceLifecycle(prevent_destroy=True) if props.prevent_destroy else None
        self.bucket = aws.s3_bucket.S3Bucket(
            self, "bucket", bucket=props.bucket_name, force_destroy=props.force_destroy, lifecycle=lifecycle
        )
        self.arn = self.bucket.arn
        self.id = self.bucket.id
        self.name = props.bucket_name

        aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock(
            self,
            "public-access-block",
            bucket=self.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        aws.s3_bucket_ownership_controls.S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=self.id,
            rule=aws.s3_bucket_ownership_controls.S3BucketOwnershipControlsRule(
                object_ownership=defaults.S3_OBJECT_OWNERSHIP
            ),
        )
        aws.s3_bucket_versioning.S3BucketVersioningA(
            self,
            "versioning",
            bucket=self.id,
            versioning_configuration=aws.s3_bucket_versioning.S3BucketVersioningVersioningConfiguration(
                status="Enabled"
            ),
        )
        if props.log_target:
            encryption = aws.s3_bucket_server_side_encryption_configuration.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm=defaults.S3_LOG_TARGET_SSE_ALGORITHM
            )
        else:
            encryption = aws.s3_bucket_server_side_encryption_configuration.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm=defaults.S3_SSE_ALGORITHM, kms_master_key_id=props.kms_key_arn
            )
        aws.s3_bucket_server_side_encryption_configuration.S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=self.id,
            rule=[
                aws.s3_bucket_server_side_encryption_configuration.S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=encryption, bucket_key_enabled=not props.log_target
                )
            ],
        )
        if props.access_log_bucket:
            aws.s3_bucket_logging.S3BucketLoggingA(
                self,
                "logging",
                bucket=self.id,
                target_bucket=props.access_log_bucket,
                target_prefix=props.access_log_prefix or f"{props.bucket_name}/",
            )
        aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfiguration(
            self, "lifecycle", bucket=self.id, rule=_lifecycle_rules(props)
        )

        statements = [
            deny_insecure_transport([self.arn, f"{self.arn}/*"], "s3:*"),
            *props.extra_policy_statements,
        ]
        if props.log_target:
            statements.append(
                statement(
                    "ServerAccessLogDelivery",
                    ["s3:PutObject"],
                    [f"{self.arn}/*"],
                    principals={"Service": ["logging.s3.amazonaws.com"]},
                    conditions=(Condition("StringEquals", "aws:SourceAccount", (props.account_id,)),),
                )
            )
        self.policy_document = policy_document(self, "policy-document", statements)
        aws.s3_bucket_policy.S3BucketPolicy(self, "policy", bucket=self.id, policy=self.policy_document.json)


def _validate(id_: str, props: SecureBucketProps) -> None:
    problems = []
    if not props.log_target and not props.kms_key_arn:
        problems.append("kms_key_arn is required (SSE-KMS with a customer key)")
    if not props.log_target and not props.access_log_bucket:
        problems.append("access_log_bucket is required (server access logging)")
    if props.log_target and not props.account_id:
        problems.append("account_id is required for a log_target bucket (scopes log delivery)")
    if props.force_destroy and props.prevent_destroy:
        problems.append("force_destroy and prevent_destroy exclude each other")
    if not 1 <= props.noncurrent_version_days <= 3650:
        problems.append(f"noncurrent_version_days must be 1-3650, got {props.noncurrent_version_days}")
    for rule in props.expiry_rules:
        if not 1 <= rule.days <= 3650:
            problems.append(f"expiry rule {rule.id!r}: days must be 1-3650, got {rule.days}")
    ids = [HOUSEKEEPING_RULE_ID, *(rule.id for rule in props.expiry_rules)]
    if duplicates := sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1}):
        problems.append(
            f"expiry rule id(s) {', '.join(duplicates)} used twice (S3 needs unique rule ids; "
            f"{HOUSEKEEPING_RULE_ID!r} is the bucket's own rule)"
        )
    # Two expiries for one object leave the later one dead (S3 applies the earlier): a mistake, refused here.
    overlapping = [
        f"{a.id!r} ({a.prefix or 'whole bucket'}) and {b.id!r} ({b.prefix or 'whole bucket'})"
        for i, a in enumerate(props.expiry_rules)
        for b in props.expiry_rules[i + 1 :]
        if a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
    ]
    if overlapping:
        problems.append(f"expiry rules overlap: {'; '.join(overlapping)}")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))


def _lifecycle_rules(
    props: SecureBucketProps,
) -> list[aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRule]:
    rules = [
        aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRule(
            id=HOUSEKEEPING_RULE_ID,
            status="Enabled",
            filter=[
                aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleFilter()
            ],  # empty filter: the whole bucket
            abort_incomplete_multipart_upload=[
                aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                    days_after_initiation=defaults.S3_ABORT_INCOMPLETE_UPLOAD_DAYS
                )
            ],
            noncurrent_version_expiration=[
                aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                    noncurrent_days=props.noncurrent_version_days
                )
            ],
        )
    ]
    for rule in props.expiry_rules:
        rules.append(
            aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRule(
                id=rule.id,
                status="Enabled",
                filter=[_rule_filter(rule.prefix)],
                expiration=[
                    aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleExpiration(days=rule.days)
                ],
            )
        )
    return rules


def _rule_filter(prefix: str) -> aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleFilter:
    """A rule's filter. The whole bucket is the empty filter, the form the housekeeping rule uses, rather than
    a second spelling of it (`prefix = ""`)."""
    if not prefix:
        return aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleFilter()
    return aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleFilter(prefix=prefix)
