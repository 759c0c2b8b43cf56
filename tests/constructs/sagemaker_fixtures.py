"""Plain props shared by the SageMaker construct tests (ARNs as literals: no other stack needed)."""

from __future__ import annotations

ACCOUNT = "123456789012"
ARTIFACT = "arn:aws:s3:::artifacts/models/inference/model.tar.gz"
REPOSITORY = "arn:aws:ecr:eu-west-1:123456789012:repository/inference-local/inference"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:inference-local-results"
