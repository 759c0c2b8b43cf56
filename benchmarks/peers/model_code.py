"""What the peer servers share: the project's model, loaded and called the plain way a user would write it.

Each peer answers POST /invocations {"instances": [[...], ...]} with the project's response shape, so the
benchmark can check that every server returns the same predictions. MODEL_DIR names the model directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np

MODEL_DIR = Path(os.environ["MODEL_DIR"])
METADATA = json.loads((MODEL_DIR / "metadata.json").read_text())
MODEL = joblib.load(MODEL_DIR / "model.joblib")
CLASSES = [str(label) for label in METADATA["classes"]]
MODEL_VERSION = str(METADATA["model_version"])


def ping() -> dict[str, str]:
    return {"status": "healthy", "model_version": MODEL_VERSION}


def predict(instances: list[list[float]]) -> dict[str, Any]:
    probabilities = MODEL.predict_proba(np.asarray(instances, dtype=np.float64))
    return {
        "predictions": [
            {
                "label": CLASSES[int(np.argmax(row))],
                "probabilities": {label: round(float(p), 6) for label, p in zip(CLASSES, row, strict=True)},
            }
            for row in probabilities
        ],
        "model_version": MODEL_VERSION,
    }
