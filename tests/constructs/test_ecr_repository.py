import json

import pytest

from modules.constructs.ecr_repository import EcrRepository, EcrRepositoryProps
from tests.constructs.helpers import only, synth_with

KEY = "arn:aws:kms:eu-west-1:123456789012:key/abc"


def _repo(stack, **overrides):
    return EcrRepository(
        stack,
        "repo",
        props=EcrRepositoryProps(
            **{"name": "p/inference", "kms_key_arn": KEY, "images_to_keep": 30, "untagged_expiry_days": 7, **overrides}
        ),
    )


def test_a_repository_has_immutable_tags_scan_on_push_and_kms():
    repo = only(synth_with(_repo), "aws_ecr_repository")
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"] == {"scan_on_push": True}
    assert repo["encryption_configuration"] == [{"encryption_type": "KMS", "kms_key": KEY}]
    assert repo["force_delete"] is False


def test_the_lifecycle_expires_untagged_images_then_keeps_the_newest_n():
    doc = synth_with(lambda s: _repo(s, images_to_keep=12, untagged_expiry_days=3))
    rules = json.loads(only(doc, "aws_ecr_lifecycle_policy")["policy"])["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2]
    assert rules[0]["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 3,
    }
    assert rules[1]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 12}


def test_out_of_range_retention_is_refused_with_both_problems_named():
    with pytest.raises(ValueError, match="images_to_keep must be 1-1000, got 0; untagged_expiry_days must be 1-365"):
        synth_with(lambda s: _repo(s, images_to_keep=0, untagged_expiry_days=400))
