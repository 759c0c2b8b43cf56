"""An ECR repository for one image: immutable tags, scan on push, KMS, lifecycle that bounds storage."""

from __future__ import annotations

import json
from dataclasses import dataclass

from constructs import Construct

from modules import aws, defaults


@dataclass(frozen=True, kw_only=True)
class EcrRepositoryProps:
    """Repository name, key and how many images to keep."""

    name: str  # repository name, e.g. inference-local/inference
    kms_key_arn: str  # CMK encrypting the image layers
    images_to_keep: int  # tagged images kept; older ones expire
    untagged_expiry_days: int  # untagged images (superseded pushes) expire after this many days
    force_delete: bool = False  # destroy deletes a repository that still holds images


class EcrRepository(Construct):
    """Exposes `repository`, `arn`, `url`, `name`."""

    def __init__(self, scope: Construct, id_: str, *, props: EcrRepositoryProps) -> None:
        super().__init__(scope, id_)
        problems = []
        if not 1 <= props.images_to_keep <= 1000:
            problems.append(f"images_to_keep must be 1-1000, got {props.images_to_keep}")
        if not 1 <= props.untagged_expiry_days <= 365:
            problems.append(f"untagged_expiry_days must be 1-365, got {props.untagged_expiry_days}")
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        self.repository = aws.ecr_repository.EcrRepository(
            self,
            "repository",
            name=props.name,
            image_tag_mutability=defaults.ECR_TAG_MUTABILITY,
            image_scanning_configuration=aws.ecr_repository.EcrRepositoryImageScanningConfiguration(
                scan_on_push=defaults.ECR_SCAN_ON_PUSH
            ),
            encryption_configuration=[
                aws.ecr_repository.EcrRepositoryEncryptionConfiguration(
                    encryption_type="KMS", kms_key=props.kms_key_arn
                )
            ],
            force_delete=props.force_delete,
        )
        aws.ecr_lifecycle_policy.EcrLifecyclePolicy(
            self, "lifecycle", repository=self.repository.name, policy=json.dumps(lifecycle_policy(props))
        )
        self.arn = self.repository.arn
        self.url = self.repository.repository_url
        self.name = props.name


def lifecycle_policy(props: EcrRepositoryProps) -> dict:
    """Untagged images expire first (rule 1), then only the newest N images are kept (rule 2)."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"expire untagged images after {props.untagged_expiry_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": props.untagged_expiry_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"keep the newest {props.images_to_keep} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": props.images_to_keep,
                },
                "action": {"type": "expire"},
            },
        ]
    }
