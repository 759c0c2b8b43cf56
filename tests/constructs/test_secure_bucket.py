import re

import pytest

from modules.constructs.secure_bucket import ExpiryRule, SecureBucket, SecureBucketProps
from tests.constructs.helpers import only, synth_with

KEY = "arn:aws:kms:eu-west-1:123456789012:key/abc"


def _bucket(stack, **overrides):
    props = {
        "bucket_name": "b",
        "kms_key_arn": KEY,
        "access_log_bucket": "logs",
        "noncurrent_version_days": 90,
        **overrides,
    }
    return SecureBucket(stack, "bucket", props=SecureBucketProps(**props))


@pytest.fixture(scope="module")
def default_bucket():
    return synth_with(_bucket)


def test_a_bucket_is_encrypted_with_the_customer_key_and_bucket_keys(default_bucket):
    rule = only(default_bucket, "aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert rule["apply_server_side_encryption_by_default"] == {"sse_algorithm": "aws:kms", "kms_master_key_id": KEY}
    assert rule["bucket_key_enabled"] is True


def test_a_bucket_blocks_every_kind_of_public_access(default_bucket):
    block = only(default_bucket, "aws_s3_bucket_public_access_block")
    assert all(
        block[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )


def test_a_bucket_is_versioned_owner_enforced_and_logged(default_bucket):
    assert only(default_bucket, "aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    assert only(default_bucket, "aws_s3_bucket_ownership_controls")["rule"] == {
        "object_ownership": "BucketOwnerEnforced"
    }
    logging = only(default_bucket, "aws_s3_bucket_logging")
    assert logging["target_bucket"] == "logs" and logging["target_prefix"] == "b/"


def test_a_bucket_policy_denies_every_request_without_tls(default_bucket):
    policy = only(default_bucket, "aws_s3_bucket_policy")
    assert "policy-document" in policy["policy"]
    document = next(iter(default_bucket["data"]["aws_iam_policy_document"].values()))
    deny = document["statement"][0]
    assert deny["effect"] == "Deny" and deny["actions"] == ["s3:*"]
    assert deny["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]


def test_every_bucket_aborts_incomplete_uploads_and_expires_old_versions(default_bucket):
    rule = only(default_bucket, "aws_s3_bucket_lifecycle_configuration")["rule"][0]
    assert rule["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 7}]
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 90}]
    assert rule["filter"] == [{}]


def test_expiry_rules_become_lifecycle_rules_on_their_prefix():
    doc = synth_with(lambda s: _bucket(s, expiry_rules=(ExpiryRule(id="results", prefix="results/", days=30),)))
    rules = only(doc, "aws_s3_bucket_lifecycle_configuration")["rule"]
    assert rules[1] == {
        "id": "results",
        "status": "Enabled",
        "filter": [{"prefix": "results/"}],
        "expiration": [{"days": 30}],
    }


def test_a_whole_bucket_expiry_uses_the_empty_filter_like_the_housekeeping_rule():
    doc = synth_with(lambda s: _bucket(s, expiry_rules=(ExpiryRule(id="logs", prefix="", days=90),)))
    rules = only(doc, "aws_s3_bucket_lifecycle_configuration")["rule"]
    assert rules[1] == {"id": "logs", "status": "Enabled", "filter": [{}], "expiration": [{"days": 90}]}
    assert rules[0]["filter"] == [{}]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            (ExpiryRule(id="a", prefix="x/", days=1), ExpiryRule(id="a", prefix="y/", days=1)),
            "expiry rule id(s) a used twice",
        ),
        ((ExpiryRule(id="housekeeping", prefix="x/", days=1),), "expiry rule id(s) housekeeping used twice"),
        (
            (ExpiryRule(id="async", prefix="async/", days=30), ExpiryRule(id="output", prefix="async/output/", days=7)),
            "expiry rules overlap: 'async' (async/) and 'output' (async/output/)",
        ),
        (
            (ExpiryRule(id="all", prefix="", days=30), ExpiryRule(id="results", prefix="results/", days=7)),
            "expiry rules overlap: 'all' (whole bucket) and 'results' (results/)",
        ),
    ],
    ids=["duplicate-id", "housekeeping-id", "nested-prefix", "whole-bucket-and-prefix"],
)
def test_expiry_rules_that_s3_would_reject_or_never_apply_are_refused(rules, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        synth_with(lambda s: _bucket(s, expiry_rules=rules))


def test_a_log_target_uses_sse_s3_and_admits_log_delivery_from_its_account_only():
    doc = synth_with(
        lambda s: _bucket(s, kms_key_arn=None, access_log_bucket=None, log_target=True, account_id="123456789012")
    )
    rule = only(doc, "aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert rule["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    document = next(iter(doc["data"]["aws_iam_policy_document"].values()))
    grant = document["statement"][1]
    assert grant["principals"] == [{"type": "Service", "identifiers": ["logging.s3.amazonaws.com"]}]
    assert grant["condition"][0]["values"] == ["123456789012"]
    assert "aws_s3_bucket_logging" not in doc["resource"]


def test_prevent_destroy_is_written_as_a_lifecycle_guard():
    bucket = only(synth_with(lambda s: _bucket(s, prevent_destroy=True)), "aws_s3_bucket")
    assert bucket["lifecycle"] == {"prevent_destroy": True}
    assert bucket["force_destroy"] is False


def test_every_missing_protection_is_named_in_one_error():
    with pytest.raises(ValueError) as error:
        synth_with(
            lambda s: _bucket(
                s,
                kms_key_arn=None,
                access_log_bucket=None,
                force_destroy=True,
                prevent_destroy=True,
                expiry_rules=(ExpiryRule(id="x", prefix="", days=0),),
            )
        )
    message = str(error.value)
    for part in (
        "kms_key_arn is required",
        "access_log_bucket is required",
        "exclude each other",
        "expiry rule 'x': days must be 1-3650, got 0",
    ):
        assert part in message
