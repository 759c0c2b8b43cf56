"""FastAPI peer, as its documentation shows: a pydantic body model, served by uvicorn (uvloop + httptools).

MODEL_DIR=... uvicorn fastapi_app:app --app-dir benchmarks/peers --workers 2
"""

from __future__ import annotations

from typing import Any

import model_code
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Instances(BaseModel):
    instances: list[list[float]]


@app.get("/ping")
def ping() -> dict[str, str]:
    return model_code.ping()


@app.post("/invocations")
def invocations(body: Instances) -> dict[str, Any]:
    return model_code.predict(body.instances)
