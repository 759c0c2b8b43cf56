"""A Lambda deployment package built in Python, byte-for-byte reproducible, registered as a TerraformAsset.

Why in Python: the offline mirror holds only hashicorp/aws, so the archive provider is not available; and a zip
that changes bytes on every build (timestamps, file order, permissions, __pycache__) makes every plan show a
spurious code update. Entries are sorted, dated 1980-01-01, mode 0644, created-by Unix, and STORED rather than
deflated: deflate output differs between zlib builds (zlib vs zlib-ng), so only an uncompressed zip is
guaranteed to hash the same on every machine. The code is small; the size cost is a few kilobytes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cdktf import AssetType, TerraformAsset
from constructs import Construct

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"
BUILD_DIR = PROJECT_ROOT / ".build" / "lambda-packages"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FILE_MODE = 0o100644  # regular file, rw-r--r--
EXCLUDED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def function_names(lambdas_dir: Path = LAMBDAS_DIR) -> list[str]:
    """Every folder of lambdas/ that holds a handler.py is a function; sorted so the JSON is stable."""
    return sorted(p.parent.name for p in lambdas_dir.glob("*/handler.py"))


def package_files(function: str, lambdas_dir: Path = LAMBDAS_DIR) -> dict[str, Path]:
    """Archive name -> file: lambdas/__init__.py and the shared lambdas/*.py, plus everything in lambdas/<function>/.

    The archive keeps the `lambdas/` prefix so the handler imports `from lambdas.contract import ...` exactly as
    the tests do.
    """
    package_root = lambdas_dir.parent
    files = {f"{lambdas_dir.name}/{p.name}": p for p in lambdas_dir.glob("*.py") if p.is_file()}
    function_dir = lambdas_dir / function
    for path in function_dir.rglob("*"):
        relative = path.relative_to(function_dir)
        if not path.is_file() or EXCLUDED_DIRS.intersection(relative.parts) or path.suffix in EXCLUDED_SUFFIXES:
            continue
        files[path.relative_to(package_root).as_posix()] = path
    return dict(sorted(files.items()))


def deterministic_zip(files: dict[str, Path]) -> bytes:
    """The zip of FILES (archive name -> path) with every varying field fixed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so external_attr means the same on every platform
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, files[name].read_bytes())
    return buffer.getvalue()


@dataclass(frozen=True, kw_only=True)
class LambdaPackageProps:
    """Which function folder to package."""

    function: str  # folder name under lambdas/ holding handler.py
    lambdas_dir: Path = LAMBDAS_DIR  # the lambdas/ package (tests point this at a fixture tree)
    build_dir: Path = BUILD_DIR  # where the zip is written before cdktf copies it into the stack's assets


class LambdaPackage(Construct):
    """Exposes `path` (relative to the stack folder), `source_code_hash` (base64 SHA-256), `sha256`, `files`."""

    def __init__(self, scope: Construct, id_: str, *, props: LambdaPackageProps) -> None:
        super().__init__(scope, id_)
        function_dir = props.lambdas_dir / props.function
        if not (function_dir / "handler.py").is_file():
            known = ", ".join(function_names(props.lambdas_dir)) or "none"
            raise ValueError(
                f"{id_}: function {props.function!r} has no {props.lambdas_dir.name}/"
                f"{props.function}/handler.py; functions with a handler: {known}"
            )
        self.files = package_files(props.function, props.lambdas_dir)
        content = deterministic_zip(self.files)
        digest = hashlib.sha256(content)
        self.sha256 = digest.hexdigest()
        self.source_code_hash = base64.b64encode(digest.digest()).decode()
        zip_path = _write_once(props.build_dir / f"{props.function}-{self.sha256[:16]}.zip", content)
        # asset_hash pinned to the content hash: the asset folder name (and so the JSON) depends on bytes only.
        self.asset = TerraformAsset(self, "asset", path=str(zip_path), type=AssetType.FILE, asset_hash=self.sha256)
        self.path = self.asset.path


def _write_once(path: Path, content: bytes) -> Path:
    """Write through a temporary file and a rename: parallel synths never read a half-written zip."""
    if path.is_file() and path.read_bytes() == content:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(content)
    temporary.replace(path)
    return path
