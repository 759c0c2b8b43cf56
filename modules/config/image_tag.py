"""The one rule for every image tag of an environment (compute.inference_service.image_tag,
compute.queue_worker.image_tag, inference.image_tag), and the deploy-time override that sets them all.

Why moving tags are refused everywhere, not only in production: every ECR repository is IMMUTABLE, so a tag
such as `latest` can be pushed exactly once. The second push fails, the task definition keeps the same image
string, and the service never rolls: a release needs a new tag every time (a version or the git sha).
Why production is stricter: a plan reviewed there must name the exact bytes it deploys, so its tags must look
immutable (a version, a git sha or a digest), not merely avoid the well-known moving names.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

# The deploy-time override: `PIPELINE_IMAGE_TAG=$(git rev-parse --short=12 HEAD) make synth` renders every image
# of the environment at that tag (read by modules/config/loader.py, like PIPELINE_EMULATOR_URL).
IMAGE_TAG_ENV = "PIPELINE_IMAGE_TAG"
# The fields the override sets: (section path, field).
IMAGE_TAG_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("compute", "inference_service"), "image_tag"),
    (("compute", "queue_worker"), "image_tag"),
    (("inference",), "image_tag"),
    (("batch",), "image_tag"),
)

# What ECR accepts as a tag (1-128 of A-Za-z0-9_.- not starting with . or -), or a sha256 digest.
IMAGE_TAG_PATTERN = r"^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$"
# Conventionally moving tags: they say "whatever was pushed last", and an immutable repository takes them once.
MOVING_TAGS = (
    "latest",
    "stable",
    "main",
    "master",
    "trunk",
    "head",
    "current",
    "release",
    "prod",
    "production",
    "staging",
    "dev",
    "develop",
    "edge",
    "nightly",
    "canary",
)
# What "immutable" looks like: a version (1.2.3, v1.2.3-rc1), a git sha (7-40 hex) or an image digest.
IMMUTABLE_TAG = re.compile(r"^(v?\d+\.\d+\.\d+([.+-][0-9A-Za-z.-]+)?|[0-9a-f]{7,40}|sha256:[0-9a-f]{64})$")
RELEASE_HINT = "use a release tag (1.4.2, v1.4.2-rc1), a git sha (7-40 hex) or sha256:<64 hex>"
OVERRIDE_HINT = f" (or, for every image at once, {IMAGE_TAG_ENV}=<tag> at synth)"


def moving_tag_problem(tag: str, *, hint: str = OVERRIDE_HINT) -> str | None:
    """Why TAG cannot be released into an immutable repository (None when it can)."""
    if tag.lower() in MOVING_TAGS:
        return (
            f"{tag!r} is a moving tag, refused in every environment (the repositories are immutable: it can be "
            f"pushed only once); {RELEASE_HINT}{hint}"
        )
    return None


def image_tag_problems(field: str, tag: str, *, production: bool) -> list[str]:
    """Every reason TAG (the value of FIELD, a config field or the override) is refused; empty when it is fine."""
    hint = "" if field == IMAGE_TAG_ENV else OVERRIDE_HINT
    if not re.fullmatch(IMAGE_TAG_PATTERN, tag):
        return [
            f"{field}: {tag!r} is not an image tag; allowed: 1-128 of A-Za-z0-9_.- (not starting with . or -) "
            "or sha256:<64 hex>"
        ]
    moving = moving_tag_problem(tag, hint=hint)
    if moving:
        return [f"{field}: {moving}"]
    if production and not IMMUTABLE_TAG.fullmatch(tag):
        return [f"{field}: {tag!r} does not look immutable, refused when production = true; {RELEASE_HINT}{hint}"]
    return []


def _refuse_moving(tag: str) -> str:
    problem = moving_tag_problem(tag)
    if problem:
        raise ValueError(problem)
    return tag


# The type of every image_tag field: ECR's syntax, and never a moving tag (production adds IMMUTABLE_TAG in the
# root config's checks, where `production` is known).
ImageTag = Annotated[str, Field(pattern=IMAGE_TAG_PATTERN), AfterValidator(_refuse_moving)]
