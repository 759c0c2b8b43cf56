"""The WSGI app in-process: routing, limits and health, without a network in between."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from containers.inference.server.app import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    InferenceApp,
    ServerSettings,
    create_app,
)


def call(
    app: InferenceApp,
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str = "application/json",
    content_length: str | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = int(status.split()[0]), dict(headers)

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)) if content_length is None else content_length,
        "wsgi.input": io.BytesIO(body),
        **(extra or {}),
    }
    chunks = app(environ, start_response)
    return captured["status"], captured["headers"], json.loads(b"".join(chunks))


@pytest.fixture(scope="module")
def app(model_dir: Path) -> InferenceApp:
    return create_app(model_dir, ServerSettings(max_payload_bytes=1024, max_batch_size=5))


def test_ping_is_healthy_and_names_the_model_version(app: InferenceApp, model_metadata: dict) -> None:
    status, _, body = call(app, "GET", "/ping")

    assert status == 200
    assert body == {
        "status": "healthy",
        "model_version": model_metadata["model_version"],
    }


def test_a_missing_model_starts_an_unhealthy_server_that_says_why(
    tmp_path: Path,
) -> None:
    broken = create_app(tmp_path / "empty")

    ping_status, _, ping = call(broken, "GET", "/ping")
    invoke_status, _, invoke = call(broken, "POST", "/invocations", b'{"instances": [[1,2,3,4]]}')

    assert ping_status == 503
    assert "model.joblib" in ping["error"] or "metadata.json" in ping["error"]
    assert invoke_status == 503
    assert invoke["error"].startswith("model not loaded")


def test_a_declared_length_over_the_limit_is_refused_before_reading(
    app: InferenceApp,
) -> None:
    # The stream is empty: had the app tried to read 2 KiB it would have parsed nothing and said 400.
    status, _, body = call(app, "POST", "/invocations", b"", content_length="2048")

    assert status == 413
    assert body["limit"] == 1024


def test_a_chunked_body_is_read_no_further_than_the_limit(app: InferenceApp) -> None:
    stream_body = b'{"instances": [' + b"[1,2,3,4]," * 200 + b"[1,2,3,4]]}"
    status, _, body = call(
        app,
        "POST",
        "/invocations",
        stream_body,
        content_length="",
        extra={"HTTP_TRANSFER_ENCODING": "chunked"},
    )

    assert status == 413
    assert "1024 bytes" in body["error"]


def test_the_default_limit_is_the_sagemaker_six_megabytes() -> None:
    assert ServerSettings.from_env({}).max_payload_bytes == 6 * 1024 * 1024 == DEFAULT_MAX_PAYLOAD_BYTES


def test_limits_come_from_the_environment_and_nonsense_is_refused_at_start() -> None:
    settings = ServerSettings.from_env({"MAX_PAYLOAD_BYTES": "2048", "MAX_BATCH_SIZE": "7"})

    assert (settings.max_payload_bytes, settings.max_batch_size) == (2048, 7)
    with pytest.raises(ValueError, match="MAX_BATCH_SIZE"):
        ServerSettings.from_env({"MAX_BATCH_SIZE": "0"})


def test_a_non_numeric_content_length_is_a_client_error(app: InferenceApp) -> None:
    status, _, body = call(app, "POST", "/invocations", b"{}", content_length="ten")

    assert status == 400
    assert "Content-Length" in body["error"]


def test_execution_parameters_tell_batch_transform_the_payload_limit(
    app: InferenceApp,
) -> None:
    status, _, body = call(app, "GET", "/execution-parameters")

    assert status == 200
    assert body["BatchStrategy"] == "MULTI_RECORD"
    assert body["MaxPayloadInMB"] >= 1


def test_an_unexpected_model_failure_is_a_json_500_and_the_app_keeps_serving(
    model_dir: Path,
) -> None:
    app = create_app(model_dir)

    class Exploding:
        def predict_proba(self, rows: Any) -> Any:
            raise RuntimeError("boom")

    healthy_model = app.model
    object.__setattr__(app.model, "estimator", Exploding())
    try:
        status, _, body = call(app, "POST", "/invocations", b'{"instances": [[1,2,3,4]]}')
        ping_status, _, _ = call(app, "GET", "/ping")
    finally:
        assert healthy_model is app.model

    assert status == 500
    assert body == {"error": "internal error"}
    assert ping_status == 200
