"""A short, stable hash of the plain values that define an immutable resource (SageMaker models and endpoint
configurations), for names that change exactly when the resource must be replaced.

Why in Python and not Terraform's sha1(): the name is then known at synth, reviewable in the snapshot, and
identical on every machine. Tokens are refused: their text ("${TfToken[...]}") differs between runs.
"""

from __future__ import annotations

import hashlib
import json

from cdktf import Token

HASH_LENGTH = 10


def content_hash(knobs: dict[str, object]) -> str:
    """The first HASH_LENGTH hex digits of SHA-256 over KNOBS as canonical JSON."""
    tokens = sorted(key for key, value in knobs.items() if isinstance(value, str) and Token.is_unresolved(value))
    if tokens:
        raise ValueError(f"content_hash: {', '.join(tokens)} are Terraform tokens; hash only plain config values")
    canonical = json.dumps(knobs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]
