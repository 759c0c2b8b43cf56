"""The registry stack: one ECR repository per folder in containers/, all under one CMK."""

from __future__ import annotations

from pathlib import Path

from constructs import Construct

from modules.config import PipelineConfig
from modules.constructs.ecr_repository import EcrRepository, EcrRepositoryProps
from modules.stacks.base import PipelineStack

CONTAINERS_DIR = Path(__file__).resolve().parent.parent.parent / "containers"


def image_names(containers_dir: Path = CONTAINERS_DIR) -> list[str]:
    """Every folder with a Dockerfile is an image; sorted so the JSON is stable."""
    return sorted(p.parent.name for p in containers_dir.glob("*/Dockerfile"))


class RegistryStack(PipelineStack):
    """Exposes `repositories` (image name -> EcrRepository) and `key`."""

    def __init__(
        self, scope: Construct, id_: str = "registry", *, config: PipelineConfig, images: list[str] | None = None
    ) -> None:
        super().__init__(scope, id_, config=config)
        images = image_names() if images is None else images
        if not images:
            raise ValueError(f"registry: no image folders (with a Dockerfile) under {CONTAINERS_DIR.name}/")
        self.key = self.customer_key(
            "ecr-key",
            alias=f"{config.name_prefix}-ecr",
            description=f"ECR images of {config.name_prefix}",
            for_logs=False,
        )
        self.repositories: dict[str, EcrRepository] = {}
        for image in images:
            repo = EcrRepository(
                self,
                f"repository-{image}",
                props=EcrRepositoryProps(
                    name=f"{config.name_prefix}/{image}",
                    kms_key_arn=self.key.arn,
                    images_to_keep=config.registry.images_to_keep,
                    untagged_expiry_days=config.registry.untagged_expiry_days,
                    force_delete=config.registry.force_delete,
                ),
            )
            self.repositories[image] = repo
            self.output(
                f"repository_url_{image.replace('-', '_')}",
                repo.url,
                f"push the {image} image here (docker push <url>:<immutable tag>)",
            )
