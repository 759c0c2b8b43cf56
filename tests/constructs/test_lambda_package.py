import hashlib
import zipfile
from io import BytesIO

import pytest

from modules.constructs.lambda_package import (
    LambdaPackage,
    LambdaPackageProps,
    deterministic_zip,
    function_names,
    package_files,
)
from tests.constructs.helpers import synth_with


@pytest.fixture
def lambdas_tree(tmp_path):
    """A lambdas/ package with shared modules, two functions and build litter that must not ship."""
    root = tmp_path / "lambdas"
    (root / "alpha" / "__pycache__").mkdir(parents=True)
    (root / "beta").mkdir()
    (root / "__pycache__").mkdir()
    for path, text in {
        "__init__.py": "",
        "contract.py": "X = 1\n",
        "alpha/__init__.py": "",
        "alpha/handler.py": "def handler(e, c): return e\n",
        "alpha/data/table.json": "{}",
        "alpha/__pycache__/handler.cpython-312.pyc": "junk",
        "alpha/stale.pyc": "junk",
        "__pycache__/contract.cpython-312.pyc": "junk",
        "beta/handler.py": "",
        "notes.txt": "no",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_every_folder_with_a_handler_is_a_function(lambdas_tree):
    (lambdas_tree / "no_handler").mkdir()
    assert function_names(lambdas_tree) == ["alpha", "beta"]


def test_the_package_holds_shared_modules_and_the_function_folder_but_no_bytecode(lambdas_tree):
    assert list(package_files("alpha", lambdas_tree)) == [
        "lambdas/__init__.py",
        "lambdas/alpha/__init__.py",
        "lambdas/alpha/data/table.json",
        "lambdas/alpha/handler.py",
        "lambdas/contract.py",
    ]


def test_the_zip_fixes_order_timestamps_and_permissions(lambdas_tree):
    archive = zipfile.ZipFile(BytesIO(deterministic_zip(package_files("alpha", lambdas_tree))))
    infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert {i.create_system for i in infos} == {3}


def test_the_same_content_gives_the_same_bytes_whatever_the_file_times(lambdas_tree):
    first = deterministic_zip(package_files("alpha", lambdas_tree))
    import os

    for path in lambdas_tree.rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    assert deterministic_zip(package_files("alpha", lambdas_tree)) == first


def test_a_changed_file_changes_the_hash(lambdas_tree):
    before = hashlib.sha256(deterministic_zip(package_files("alpha", lambdas_tree))).hexdigest()
    (lambdas_tree / "contract.py").write_text("X = 2\n")
    assert hashlib.sha256(deterministic_zip(package_files("alpha", lambdas_tree))).hexdigest() != before


def test_the_asset_path_is_relative_and_named_by_the_content_hash(lambdas_tree, tmp_path):
    built = {}

    def build(stack):
        built["package"] = LambdaPackage(
            stack,
            "pkg",
            props=LambdaPackageProps(function="alpha", lambdas_dir=lambdas_tree, build_dir=tmp_path / "build"),
        )

    synth_with(build)
    package = built["package"]
    assert package.path.startswith("assets/") and package.sha256 in package.path


def test_a_function_without_handler_is_refused_naming_the_known_ones(lambdas_tree):
    with pytest.raises(ValueError, match=r"no lambdas/gamma/handler.py; functions with a handler: alpha, beta"):
        synth_with(
            lambda s: LambdaPackage(s, "pkg", props=LambdaPackageProps(function="gamma", lambdas_dir=lambdas_tree))
        )
