"""The training script: a SageMaker-style archive that the server can load."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import sklearn

from containers.inference import train


def test_the_archive_holds_the_model_and_its_metadata_at_the_root(
    tmp_path: Path,
) -> None:
    archive = train.build_archive(tmp_path / "out")

    with tarfile.open(archive, "r:gz") as tar:
        names = sorted(tar.getnames())

    assert archive.name == "model.tar.gz"
    assert names == ["metadata.json", "model.joblib"]


def test_the_metadata_describes_features_classes_version_and_library(
    model_metadata: dict,
) -> None:
    assert len(model_metadata["feature_names"]) == 4
    assert model_metadata["classes"] == ["setosa", "versicolor", "virginica"]
    assert model_metadata["sklearn_version"] == sklearn.__version__
    assert model_metadata["model_version"].startswith("iris-")


def test_the_example_model_is_accurate_on_held_out_flowers(
    model_metadata: dict,
) -> None:
    assert model_metadata["holdout_accuracy"] >= 0.9


def test_the_command_line_writes_the_archive_and_can_extract_it(tmp_path: Path) -> None:
    train.main([str(tmp_path / "out"), "--extract-to", str(tmp_path / "model")])

    assert (tmp_path / "out" / "model.tar.gz").is_file()
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert metadata["name"] == "iris"
    assert (tmp_path / "model" / "model.joblib").stat().st_size > 0


def test_extraction_refuses_an_archive_member_that_escapes_the_model_dir(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        member = tarfile.TarInfo("../outside.txt")
        member.size = 3
        tar.addfile(member, io.BytesIO(b"bad"))

    with pytest.raises(tarfile.FilterError):
        train.extract(archive, tmp_path / "model")
    assert not (tmp_path / "outside.txt").exists()
