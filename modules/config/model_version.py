"""What a model version may be: one S3 key segment that names one artifact forever (the release path and the
config agree on it, so a version the tool derives is a version the config accepts)."""

from __future__ import annotations

import re

# One path segment of an S3 key that needs no URL encoding: letters, digits, ".", "_", "-" (so semver without
# "+build", dates, hex content hashes), starting and ending with a letter or digit.
MODEL_VERSION_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$"
# Names that say "whatever was uploaded last": a version must name one artifact forever.
MOVING_MODEL_VERSIONS = ("latest", "current", "stable", "live", "newest", "head", "main", "master", "prod",
                         "production", "dev", "nightly")


def model_version_problem(field: str, version: str) -> str | None:
    """One line when VERSION cannot name an artifact (the pattern is checked by the field itself)."""
    if not re.fullmatch(MODEL_VERSION_PATTERN, version):
        return (f"{field}: {version!r} is not one key segment (letters, digits, '.', '_', '-'; at most 64, "
                f"starting and ending with a letter or digit)")
    if version.lower() in MOVING_MODEL_VERSIONS:
        return (f"{field}: {version!r} does not name one artifact; use a release (e.g. 1.4.2), a date "
                f"(2025-06-01) or a content hash")
    return None
