"""Load a model directory (`model.joblib` + `metadata.json`) and turn feature rows into predictions."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
REQUIRED_METADATA = ("feature_names", "classes", "model_version")

log = logging.getLogger("inference.model")


class ModelLoadError(Exception):
    """The model directory is missing a file or describes the model inconsistently."""


@dataclass(frozen=True)
class LoadedModel:
    """A fitted classifier with `predict_proba` and the metadata written beside it at training time."""

    estimator: Any
    feature_names: tuple[str, ...]
    classes: tuple[str, ...]
    version: str

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def predict(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """One prediction per row: the most likely label and every class's probability.

        `rows` are finite (payload.py checked every value), so scikit-learn's own finiteness scan is skipped:
        a fifth of its per-call overhead. Rounding, argmax and the conversion to Python numbers happen once
        for the whole batch instead of once per value.
        """
        with sklearn.config_context(assume_finite=True):
            probabilities = self.estimator.predict_proba(rows)
        labels = [self.classes[index] for index in probabilities.argmax(axis=1).tolist()]
        return [
            {"label": label, "probabilities": dict(zip(self.classes, row, strict=True))}
            for label, row in zip(labels, np.round(probabilities, 6).tolist(), strict=True)
        ]


def load_model(model_dir: Path) -> LoadedModel:
    """Load and cross-check the model; raise ModelLoadError naming the file or field at fault.

    joblib files are pickles: load only artifacts this project built (the artifact bucket is
    write-restricted to the pipeline), never user uploads.
    """
    metadata_path, model_path = model_dir / METADATA_FILE, model_dir / MODEL_FILE
    for path in (metadata_path, model_path):
        if not path.is_file():
            raise ModelLoadError(f"{path} is missing")
    try:
        metadata = json.loads(metadata_path.read_text())
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{metadata_path} is not valid JSON: {error}") from error
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ModelLoadError(f"{metadata_path} lacks {', '.join(missing)}")
    try:
        estimator = joblib.load(model_path)
    except Exception as error:  # unpickling can fail in many ways; all mean "unusable artifact"
        raise ModelLoadError(f"{model_path} could not be loaded: {error}") from error
    classes = tuple(str(label) for label in metadata["classes"])
    fitted_classes = tuple(str(label) for label in getattr(estimator, "classes_", classes))
    if fitted_classes != classes:
        raise ModelLoadError(f"metadata classes {classes} differ from the estimator's {fitted_classes}")
    _warn_on_version_skew(metadata.get("sklearn_version"))
    return LoadedModel(
        estimator=estimator,
        feature_names=tuple(metadata["feature_names"]),
        classes=classes,
        version=str(metadata["model_version"]),
    )


def _warn_on_version_skew(trained_with: str | None) -> None:
    """scikit-learn only promises to unpickle models from the same version; say so loudly when they differ."""
    if trained_with and trained_with != sklearn.__version__:
        log.warning(
            "model was trained with a different scikit-learn",
            extra={
                "fields": {
                    "trained_with": trained_with,
                    "serving_with": sklearn.__version__,
                }
            },
        )
