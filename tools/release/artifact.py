"""A model directory becomes one immutable artifact: a reproducible model.tar.gz, a version derived from its bytes,
and an upload to models/<name>/<version>/model.tar.gz that never replaces what a version already names.

Why reproducible: the same directory must give the same bytes, so the content-hash version says "this model" and
a re-run after a failed upload finds its own artifact instead of a conflict. Entries are sorted, owned by root,
dated 0, with fixed modes, and the gzip header carries no name or time.

Why the upload refuses to overwrite: a version is what config names and what every instance of an endpoint
configuration loads (possibly long after the deploy, when autoscaling adds one, or when SageMaker rolls back to
it). Replacing the bytes behind a deployed version would make instances of one configuration serve different
models. The check is the conditional write S3 itself enforces (If-None-Match: *), not a read followed by a write.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.config.model_version import model_version_problem
from modules.limits import S3_SINGLE_PUT

ARCHIVE_NAME = "model.tar.gz"
VERSION_HASH_LENGTH = 12  # hex digits of the archive's SHA-256 (48 bits), as containers/inference/train.py does
SHA256_METADATA = "sha256"  # x-amz-meta-sha256 on the object: what the archive's hash was at upload
CHUNK = 1024 * 1024


class ReleaseError(RuntimeError):
    """A release step refuses to go on; the message names what and why (one line for the user)."""


class ReleaseInputError(ReleaseError):
    """An input cannot be read or used at all (no such folder, no outputs, an unreadable plan)."""


@dataclass(frozen=True)
class Artifact:
    path: Path  # the model.tar.gz
    sha256: str  # hex digest of the archive
    version: str  # the given version, else the first VERSION_HASH_LENGTH hex digits of sha256
    files: int  # model files in the archive


def package(model_dir: Path, output_dir: Path, version: str | None = None) -> Artifact:
    """Write OUTPUT_DIR/model.tar.gz with MODEL_DIR's files at the archive root (where SageMaker extracts them
    to /opt/ml/model), reproducibly; the version is VERSION, else derived from the archive's hash."""
    if not model_dir.is_dir():
        raise ReleaseInputError(f"{model_dir}: not a directory (give the folder holding the model files)")
    files = sorted(path for path in model_dir.rglob("*") if not path.is_dir())
    odd = [str(path.relative_to(model_dir)) for path in files if path.is_symlink() or not path.is_file()]
    if odd:
        raise ReleaseError(f"{model_dir}: links and special files cannot be packaged (SageMaker refuses to extract "
                           f"them): {', '.join(odd)}")
    if not files:
        raise ReleaseInputError(f"{model_dir}: no files to package")
    if version is not None:
        problem = model_version_problem("--version", version)
        if problem:
            raise ReleaseError(problem)
    output_dir.mkdir(parents=True, exist_ok=True)
    archive = output_dir / ARCHIVE_NAME
    with archive.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            info = tarfile.TarInfo(path.relative_to(model_dir).as_posix())
            info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    digest = sha256_of(archive)
    return Artifact(path=archive, sha256=digest, version=version or digest[:VERSION_HASH_LENGTH], files=len(files))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Upload:
    uri: str  # s3://bucket/key
    created: bool  # False: the same bytes were already there (a re-run), nothing written


def upload(s3: Any, artifact: Artifact, bucket: str, key: str) -> Upload:
    """Put ARTIFACT at s3://BUCKET/KEY unless the key exists. The same bytes already there are a re-run (nothing to
    do); other bytes are a refusal. S3 enforces it atomically: a concurrent upload of the same key gets 412."""
    uri = f"s3://{bucket}/{key}"
    size = artifact.path.stat().st_size
    if size > S3_SINGLE_PUT.value:
        raise ReleaseError(f"{artifact.path}: {size} bytes, over the {S3_SINGLE_PUT.value} one PutObject takes "
                           f"({S3_SINGLE_PUT.doc}); split the model or upload it by multipart yourself")
    existing = _existing_sha256(s3, bucket, key)
    if existing is not None:
        if existing == artifact.sha256:
            return Upload(uri=uri, created=False)
        raise ReleaseError(f"{uri} already exists with other content (sha256 {existing or 'unknown'}, this archive "
                           f"{artifact.sha256}): a version names one artifact forever; release under another version")
    from botocore.exceptions import ClientError

    checksum = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
    try:
        with artifact.path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ChecksumSHA256=checksum,
                          Metadata={SHA256_METADATA: artifact.sha256}, ContentType="application/gzip")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise ReleaseError(f"{uri} was written by someone else meanwhile: a version names one artifact "
                               f"forever; check what is there, then release under another version") from None
        raise ReleaseError(f"uploading {uri} failed: {code or error}") from None
    return Upload(uri=uri, created=True)


def _existing_sha256(s3: Any, bucket: str, key: str) -> str | None:
    """The recorded hash of the object at KEY ('' when it carries none), None when there is no object."""
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise ReleaseError(f"cannot read s3://{bucket}/{key} ({error.response.get('Error', {}).get('Code', status)}): "
                           "the deployer needs s3:GetObject and s3:ListBucket on the artifacts bucket "
                           "(without ListBucket S3 answers 403 for a missing key)") from None
    return str(head.get("Metadata", {}).get(SHA256_METADATA, ""))


def read_archive_member(archive: Path, name: str) -> bytes | None:
    """One file of a model.tar.gz (e.g. metadata.json), or None."""
    with tarfile.open(archive, "r:gz") as tar:
        try:
            member = tar.extractfile(name)
        except KeyError:
            return None
        return member.read() if member else None

