"""The bootstrap stack: the bucket (and its key and access-log bucket) that holds dev/prod Terraform state.

It starts with its own state in a local file (`state/<environment>/state.tfstate`): it has to exist before any
S3 backend can. `make state-migrate` then moves that state into the bucket, and `state.self_managed = true`
keeps it there, under the same backend settings as every other stack.

The bucket refuses two things (bucket policy):
- a state object written with any encryption but the state key. Terraform's S3 backend names the key on every
  write; a write that names no encryption gets the bucket default, which is the same key;
- any request from a principal outside `state.allowed_principal_arns` and the account root, when that list is set.
"""

from __future__ import annotations

from constructs import Construct

from modules.config import PipelineConfig
from modules.constructs.policy_statements import Condition, statement
from modules.constructs.secure_bucket import ExpiryRule, SecureBucket, SecureBucketProps
from modules.stacks.base import PipelineStack

# What Terraform writes per state: `<key>.tfstate`, and beside it `<key>.tfstate.tflock` (use_lockfile). Only the
# state objects must carry the state key; lock files hold no data, and several Terraform/OpenTofu versions send no
# encryption header on them (opentofu#2970), so a rule on them would only break locking.
STATE_OBJECT_PATTERN = "*.tfstate"
SSE_HEADER = "s3:x-amz-server-side-encryption"
SSE_KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"


class StateStack(PipelineStack):
    """Exposes `bucket` (the state bucket), `key` (its CMK) and `access_logs` (the bucket's log bucket)."""

    def __init__(self, scope: Construct, id_: str = "state", *, config: PipelineConfig) -> None:
        super().__init__(scope, id_, config=config, force_local_backend=not config.state.self_managed)
        name = config.state_bucket_name
        bucket_arn = f"arn:{self.partition}:s3:::{name}"
        self.key = self.customer_key(
            "state-key",
            alias=config.state_key_alias,
            description=f"Terraform state of {config.name_prefix}",
            for_logs=False,
        )
        self.access_logs = SecureBucket(
            self,
            "state-access-logs",
            props=SecureBucketProps(
                bucket_name=config.state_access_log_bucket_name,
                log_target=True,
                account_id=self.account_id,
                partition=self.partition,
                force_destroy=not config.production,
                noncurrent_version_days=config.state.noncurrent_version_days,
                expiry_rules=(
                    ExpiryRule(id="expire-access-logs", prefix="", days=config.storage.access_log_expiry_days),
                ),
            ),
        )
        statements = state_key_only(bucket_arn, (self.key.arn, self.key.alias.arn))
        if config.state.allowed_principal_arns:
            root = f"arn:{self.partition}:iam::{self.account_id}:root"
            statements += (operators_only(bucket_arn, (root, *config.state.allowed_principal_arns)),)
        self.bucket = SecureBucket(
            self,
            "state-bucket",
            props=SecureBucketProps(
                bucket_name=name,
                kms_key_arn=self.key.arn,
                access_log_bucket=self.access_logs.id,
                prevent_destroy=True,
                noncurrent_version_days=config.state.noncurrent_version_days,
                extra_policy_statements=statements,
            ),
        )
        self.output("state_bucket", self.bucket.id, "bucket of the s3 backend of this environment (backend.bucket)")
        self.output("state_kms_key_arn", self.key.arn, "CMK encrypting the state objects (backend.kms_key_id)")


def state_key_only(bucket_arn: str, key_arns: tuple[str, ...]) -> tuple:
    """Deny writing a state object encrypted with anything but the state key (KEY_ARNS: its key and alias ARN).

    Why both ARNs: the backend names the key by its alias ARN (the key id is random). S3's documentation asks for
    the key ARN in this condition and says the key S3 uses must match it, but not what the condition key holds
    when the request names an alias; listing both admits exactly this key either way (the alias can only point
    at a key of this account and region, and only an administrator of the key can move it).
    Why only when a header is present (`Null = false`): a part of a multipart upload (a state above 5 MiB) is
    authorised as s3:PutObject but carries no encryption header (its encryption was settled, and checked, when
    the upload was created), and a write with no header gets the bucket default, which is the state key. A
    negated operator alone, IfExists or not, would deny both. Refused: explicit AES256 (what `encrypt = true`
    without kms_key_id sends), another key, and aws:kms without a key id (S3 then uses the AWS managed key).
    """
    objects = [f"{bucket_arn}/{STATE_OBJECT_PATTERN}"]
    deny = {"effect": "Deny", "principals": {"*": ["*"]}}
    return (
        statement(
            "DenyStateWithoutKms",
            ["s3:PutObject"],
            objects,
            **deny,
            conditions=(
                Condition("StringNotEquals", SSE_HEADER, ("aws:kms",)),
                Condition("Null", SSE_HEADER, ("false",)),
            ),
        ),
        statement(
            "DenyStateWithAnotherKey",
            ["s3:PutObject"],
            objects,
            **deny,
            conditions=(
                Condition("StringNotEquals", SSE_KEY_HEADER, key_arns),
                Condition("Null", SSE_KEY_HEADER, ("false",)),
            ),
        ),
        statement(
            "DenyStateWithTheAwsManagedKey",
            ["s3:PutObject"],
            objects,
            **deny,
            conditions=(
                Condition("StringEquals", SSE_HEADER, ("aws:kms",)),
                Condition("Null", SSE_KEY_HEADER, ("true",)),
            ),
        ),
    )


def operators_only(bucket_arn: str, principal_arns: tuple[str, ...]):
    """Deny every S3 action on the bucket and its objects to any principal not in PRINCIPAL_ARNS.

    Lock-out: a deny like this also stops an administrator from fixing the bucket policy. Two ways back stay open:
    the account root, listed here, and which AWS always lets call Get/Put/DeleteBucketPolicy on its own bucket
    even against an explicit deny; and any listed role (a break-glass role belongs in the list). Apply the state
    stack as a listed role: any other principal can no longer read the bucket to refresh the stack.
    """
    return statement(
        "DenyAllButStateOperators",
        ["s3:*"],
        [bucket_arn, f"{bucket_arn}/*"],
        effect="Deny",
        principals={"*": ["*"]},
        conditions=(Condition("ArnNotLike", "aws:PrincipalArn", principal_arns),),
    )
