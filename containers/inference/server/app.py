"""The WSGI application: routing, body limits and JSON responses around a loaded model.

No web framework: three routes and strict limits are clearer written out than configured,
and the image stays small. `create_app(model_dir)` is the one entry point (gunicorn, tests).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import orjson

from .model import LoadedModel, ModelLoadError, load_model
from .payload import JSON_LINES_TYPE, JSON_TYPE, PayloadError, media_type, parse_instances

Environ = Mapping[str, Any]
StartResponse = Callable[..., Any]

# The default serves SageMaker, which sets no MAX_PAYLOAD_BYTES: InvokeEndpoint's body stops at 6291456 bytes
# (API reference, Body length constraint) and a serverless endpoint refuses over 4 MB before the container sees it.
# On Fargate the compute stack sets MAX_PAYLOAD_BYTES from the route (modules/limits.py, docs/security.md: Payload limits).
DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
DEFAULT_MAX_BATCH_SIZE = 1000
DEFAULT_MODEL_DIR = "/opt/ml/model"
# Batch Transform refuses MaxPayloadInMB over 100, and MaxConcurrentTransforms x MaxPayloadInMB over 100 (MB):
# modules/limits.py SAGEMAKER_TRANSFORM_PAYLOAD. /execution-parameters stays inside both.
TRANSFORM_PAYLOAD_MB = 100
MB = 1024 * 1024

log = logging.getLogger("inference.app")


@dataclass(frozen=True)
class ServerSettings:
    """Request limits, read once from MAX_PAYLOAD_BYTES and MAX_BATCH_SIZE."""

    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ServerSettings:
        return cls(
            max_payload_bytes=_positive_int(env, "MAX_PAYLOAD_BYTES", DEFAULT_MAX_PAYLOAD_BYTES),
            max_batch_size=_positive_int(env, "MAX_BATCH_SIZE", DEFAULT_MAX_BATCH_SIZE),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) == 0:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any] | bytes  # bytes: already encoded in content_type (JSON Lines)
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = JSON_TYPE


def error(status: int, message: str, **details: Any) -> Response:
    return Response(status, {"error": message, **details})


class InferenceApp:
    """Serves /ping, /invocations and /execution-parameters; every outcome is a JSON response."""

    def __init__(
        self,
        model: LoadedModel | None,
        settings: ServerSettings,
        load_error: str | None = None,
    ) -> None:
        self.model = model
        self.settings = settings
        self.load_error = load_error
        self.routes: dict[str, dict[str, Callable[[Environ], Response]]] = {
            "/ping": {"GET": self.ping},
            "/invocations": {"POST": self.invocations},
            # Batch transform asks this once to size its requests.
            "/execution-parameters": {"GET": self.execution_parameters},
        }

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self.dispatch(environ)
        except PayloadError as problem:
            response = error(problem.status, problem.message, **problem.details)
        except Exception:  # a bug, not bad input: keep the worker alive and say so
            log.exception("unhandled error", extra={"fields": {"path": environ.get("PATH_INFO")}})
            response = error(500, "internal error")
        # orjson: a tenth of json.dumps' time on 100 predictions; bytes are a body already encoded (JSON lines)
        body = response.body if isinstance(response.body, bytes) else orjson.dumps(response.body)
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(body))),
            *response.headers,
        ]
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", headers)
        return [body]

    def dispatch(self, environ: Environ) -> Response:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        handlers = self.routes.get(path)
        if handlers is None:
            return error(404, f"no route for {path}; routes are {', '.join(sorted(self.routes))}")
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(sorted(handlers))
            problem = error(405, f"{method} is not allowed on {path}; use {allowed}")
            return Response(problem.status, problem.body, [("Allow", allowed)])
        return handler(environ)

    def ping(self, _environ: Environ) -> Response:
        """200 only when a model is loaded, so SageMaker and the ALB route traffic only to working tasks."""
        if self.model is None:
            return Response(503, {"status": "unhealthy", "error": self.load_error})
        return Response(200, {"status": "healthy", "model_version": self.model.version})

    def invocations(self, environ: Environ) -> Response:
        if self.model is None:
            return error(503, f"model not loaded: {self.load_error}")
        body = read_body(environ, self.settings.max_payload_bytes)
        content_type = environ.get("CONTENT_TYPE", "")
        rows = parse_instances(
            body,
            content_type,
            n_features=self.model.n_features,
            max_batch_size=self.settings.max_batch_size,
        )
        if media_type(content_type) == JSON_LINES_TYPE and media_type(environ.get("HTTP_ACCEPT", "")) != JSON_TYPE:
            # Batch Transform (SplitType Line, AssembleWith Line): one output line per input line, in order.
            lines = b"".join(orjson.dumps(prediction) + b"\n" for prediction in self.model.predict(rows))
            return Response(200, lines, [("X-Model-Version", self.model.version)], content_type=JSON_LINES_TYPE)
        return Response(
            200,
            {
                "predictions": self.model.predict(rows),
                "model_version": self.model.version,
            },
            [("X-Model-Version", self.model.version)],
        )

    def execution_parameters(self, _environ: Environ) -> Response:
        """What Batch Transform sends at most: bodies this server accepts (MAX_PAYLOAD_BYTES, whole MB), and no more
        concurrent requests than it has CPUs or Transform's 100 MB budget allows."""
        payload_mb = max(1, min(self.settings.max_payload_bytes // MB, TRANSFORM_PAYLOAD_MB))
        concurrency = max(1, min(os.cpu_count() or 1, TRANSFORM_PAYLOAD_MB // payload_mb))
        return Response(
            200,
            {
                "MaxConcurrentTransforms": concurrency,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": payload_mb,
            },
        )


def read_body(environ: Environ, limit: int) -> bytes:
    """Read at most `limit` bytes: refuse by Content-Length before reading, and cap chunked reads."""
    stream = environ["wsgi.input"]
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    if declared:
        if not declared.isdigit():
            raise PayloadError(400, f"Content-Length {declared!r} is not a byte count")
        length = int(declared)
        if length > limit:
            raise PayloadError(
                413,
                f"body of {length} bytes exceeds the limit of {limit} bytes",
                limit=limit,
            )
        return stream.read(length)
    if "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadError(413, f"body exceeds the limit of {limit} bytes", limit=limit)
        return body
    return b""  # HTTP/1.1: no length and not chunked means no body


def create_app(model_dir: str | Path | None = None, settings: ServerSettings | None = None) -> InferenceApp:
    """Load the model once per worker; a broken model still starts a server whose /ping says why (503)."""
    directory = Path(model_dir or os.environ.get("MODEL_DIR") or DEFAULT_MODEL_DIR)
    settings = settings or ServerSettings.from_env()
    try:
        model = load_model(directory)
    except ModelLoadError as problem:
        log.error(
            "model not loaded",
            extra={"fields": {"model_dir": str(directory), "error": str(problem)}},
        )
        return InferenceApp(None, settings, load_error=str(problem))
    log.info(
        "model loaded",
        extra={
            "fields": {
                "model_dir": str(directory),
                "model_version": model.version,
                "classes": model.classes,
            }
        },
    )
    return InferenceApp(model, settings)
