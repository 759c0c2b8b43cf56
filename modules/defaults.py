"""Secure defaults in one place, so a reviewer finds every security-relevant constant in one file."""

from __future__ import annotations

KMS_DELETION_WINDOW_DAYS = 30  # the maximum: time to notice and cancel a mistaken key deletion
KMS_KEY_ROTATION = True

S3_SSE_ALGORITHM = "aws:kms"
S3_LOG_TARGET_SSE_ALGORITHM = "AES256"  # server access log delivery cannot write to SSE-KMS buckets
S3_OBJECT_OWNERSHIP = "BucketOwnerEnforced"  # ACLs off: access only through policies
S3_ABORT_INCOMPLETE_UPLOAD_DAYS = 7

ECR_TAG_MUTABILITY = "IMMUTABLE"
ECR_SCAN_ON_PUSH = True

REQUIRED_PROVIDER_SOURCE = "hashicorp/aws"
# The Python bindings are generated from provider 6.25.0, while the machines' offline mirror holds 5.100.x.
# Every resource here uses only arguments both understand, so both are accepted.
REQUIRED_PROVIDER_VERSION = ">= 5.100.0, < 7.0.0"
REQUIRED_TERRAFORM_VERSION = ">= 1.10.0"  # S3-native state locking (use_lockfile)

# Health alarms wait for a trend: three bad 5-minute periods in a row, not a blip. The soonest such an alarm can go
# to ALARM after things break is what a deployment's baking period must cover (config/rollout.py checks it).
ALARM_PERIOD_SECONDS = 300
ALARM_EVALUATION_PERIODS = 3
ALARM_TIME_TO_ALARM_SECONDS = ALARM_PERIOD_SECONDS * ALARM_EVALUATION_PERIODS
