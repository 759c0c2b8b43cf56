"""Train the example model and package it the way SageMaker expects (`model.tar.gz`).

The example is a scikit-learn classifier on the iris data set, which ships inside scikit-learn,
so a build needs no download. Replace this file with your own training to serve your own model;
the server only needs a model directory holding `model.joblib` and `metadata.json` (see
the docs/runtime.md: "Bring your own model").

usage: python train.py OUTPUT_DIR [--extract-to MODEL_DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
ARCHIVE_NAME = "model.tar.gz"
MODEL_NAME = "iris"


def train() -> tuple[Pipeline, dict[str, Any]]:
    """Fit the classifier and describe it; labels are class names, so predictions need no lookup table."""
    iris = load_iris()
    labels = iris.target_names[iris.target]
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, labels, test_size=0.25, random_state=0, stratify=labels
    )
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(x_train, y_train)
    metadata = {
        "name": MODEL_NAME,
        "framework": "scikit-learn",
        "sklearn_version": sklearn.__version__,
        "feature_names": list(iris.feature_names),
        "classes": [str(label) for label in pipeline.classes_],
        "holdout_accuracy": round(float(pipeline.score(x_test, y_test)), 4),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return pipeline, metadata


def write_model_dir(model_dir: Path) -> Path:
    """Train and write `model.joblib` + `metadata.json` into `model_dir` (created if missing)."""
    pipeline, metadata = train()
    model_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    model_bytes = buffer.getvalue()
    # A content hash makes the version traceable from any prediction back to the exact artifact.
    metadata["model_version"] = f"{MODEL_NAME}-{hashlib.sha256(model_bytes).hexdigest()[:12]}"
    (model_dir / MODEL_FILE).write_bytes(model_bytes)
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return model_dir


def package(model_dir: Path, output_dir: Path) -> Path:
    """Write `model.tar.gz` with the model files at the archive root, where SageMaker extracts them."""
    output_dir.mkdir(parents=True, exist_ok=True)
    archive = output_dir / ARCHIVE_NAME
    with tarfile.open(archive, "w:gz") as tar:
        for name in (MODEL_FILE, METADATA_FILE):
            tar.add(model_dir / name, arcname=name)
    return archive


def extract(archive: Path, model_dir: Path) -> Path:
    """Unpack an archive into `model_dir`, refusing links and paths that escape it (the "data" filter)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(model_dir, filter="data")
    return model_dir


def build_archive(output_dir: Path) -> Path:
    """Train into a scratch directory and leave only `model.tar.gz` in `output_dir`."""
    with tempfile.TemporaryDirectory() as scratch:
        return package(write_model_dir(Path(scratch)), output_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir", type=Path, help="where model.tar.gz is written")
    parser.add_argument(
        "--extract-to",
        type=Path,
        help="also unpack the archive into this model directory",
    )
    args = parser.parse_args(argv)
    archive = build_archive(args.output_dir)
    print(f"wrote {archive}")
    if args.extract_to:
        print(f"extracted to {extract(archive, args.extract_to)}")


if __name__ == "__main__":
    main()
