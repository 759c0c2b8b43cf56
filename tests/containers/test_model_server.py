"""The model server over real HTTP: gunicorn running serve.py, exactly as the image starts it."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from tests.containers.model_server_process import RunningServer, http_request

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]


def read_until_closed(connection: socket.socket) -> str:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def invocations(server: RunningServer) -> str:
    return f"{server.url}/invocations"


def test_ping_answers_200_once_the_model_is_loaded(model_server: RunningServer) -> None:
    answer = http_request(f"{model_server.url}/ping")

    assert answer.status == 200
    assert answer.body["status"] == "healthy"


def test_a_json_batch_gets_one_labelled_prediction_per_instance(
    model_server: RunningServer, model_metadata: dict
) -> None:
    body = json.dumps({"instances": [SETOSA, VIRGINICA]}).encode()

    answer = http_request(invocations(model_server), method="POST", body=body)

    assert answer.status == 200
    assert [p["label"] for p in answer.body["predictions"]] == ["setosa", "virginica"]
    probabilities = answer.body["predictions"][0]["probabilities"]
    assert set(probabilities) == {"setosa", "versicolor", "virginica"}
    assert abs(sum(probabilities.values()) - 1.0) < 1e-3
    assert answer.body["model_version"] == model_metadata["model_version"]


def test_csv_rows_get_the_same_predictions_as_json(model_server: RunningServer) -> None:
    csv_body = "\n".join(",".join(map(str, row)) for row in (SETOSA, VIRGINICA)).encode()

    answer = http_request(invocations(model_server), method="POST", body=csv_body, content_type="text/csv")

    assert answer.status == 200
    assert [p["label"] for p in answer.body["predictions"]] == ["setosa", "virginica"]


def test_malformed_json_is_a_400_that_says_so(model_server: RunningServer) -> None:
    answer = http_request(invocations(model_server), method="POST", body=b'{"instances": [[1, 2')

    assert answer.status == 400
    assert answer.body["error"].startswith("malformed JSON")


def test_a_row_of_the_wrong_width_is_a_400_naming_its_index(
    model_server: RunningServer,
) -> None:
    body = json.dumps({"instances": [SETOSA, [1.0, 2.0, 3.0]]}).encode()

    answer = http_request(invocations(model_server), method="POST", body=body)

    assert answer.status == 400
    assert answer.body == {
        "error": "instances[1] has 3 features; expected 4",
        "index": 1,
    }


def test_a_body_over_the_limit_is_a_413(model_server: RunningServer) -> None:
    # The shared server runs with MAX_PAYLOAD_BYTES=64 KiB.
    body = json.dumps({"instances": [SETOSA] * 5000}).encode()
    assert len(body) > 64 * 1024

    answer = http_request(invocations(model_server), method="POST", body=body)

    assert answer.status == 413
    assert answer.body["limit"] == 64 * 1024


def test_a_huge_declared_length_is_refused_without_sending_the_body(
    model_server: RunningServer,
) -> None:
    host, port = urlsplit(model_server.url).hostname, urlsplit(model_server.url).port
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10 * 1024 * 1024 * 1024}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(head.encode())
        reply = read_until_closed(connection)

    assert reply.startswith("HTTP/1.1 413")


def test_an_unknown_content_type_is_a_415(model_server: RunningServer) -> None:
    answer = http_request(
        invocations(model_server),
        method="POST",
        body=b"<x/>",
        content_type="application/xml",
    )

    assert answer.status == 415
    assert "application/json" in answer.body["error"]


def test_unknown_paths_and_wrong_methods_answer_in_json(
    model_server: RunningServer,
) -> None:
    missing = http_request(f"{model_server.url}/predict")
    wrong_method = http_request(invocations(model_server))

    assert missing.status == 404
    assert "/invocations" in missing.body["error"]
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "POST"
    assert "GET" in wrong_method.body["error"]


def test_fifty_concurrent_requests_from_eight_threads_all_get_correct_answers(
    model_server: RunningServer,
) -> None:
    cases = [(SETOSA, "setosa") if i % 2 else (VIRGINICA, "virginica") for i in range(50)]

    def ask(case: tuple[list[float], str]) -> tuple[int, str, str]:
        row, expected = case
        answer = http_request(
            invocations(model_server),
            method="POST",
            body=json.dumps({"instances": [row]}).encode(),
        )
        return answer.status, answer.body["predictions"][0]["label"], expected

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(ask, cases))

    assert all(status == 200 for status, _, _ in outcomes)
    assert all(label == expected for _, label, expected in outcomes)


def test_every_log_line_is_a_json_object_and_requests_are_logged_with_their_status(
    model_server: RunningServer,
) -> None:
    http_request(f"{model_server.url}/no-such-route")
    deadline = time.monotonic() + 5
    access: list[dict] = []
    while time.monotonic() < deadline and not access:
        lines = [json.loads(line) for line in model_server.log_lines() if line.strip()]
        access = [line for line in lines if line["logger"] == "gunicorn.access" and line["path"] == "/no-such-route"]
        time.sleep(0.05)

    assert access and access[0]["status"] == 404 and access[0]["method"] == "GET"
    assert any(line["message"] == "model loaded" for line in lines)


def test_an_access_log_line_names_the_request_and_carries_the_callers_trace_id(
    model_server: RunningServer,
) -> None:
    trace_id = "Root=1-67891233-abcdef012345678912345678"
    address = urlsplit(model_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    body = json.dumps({"instances": [SETOSA]}).encode()
    connection.request(
        "POST",
        "/invocations",
        body=body,
        headers={"Content-Type": "application/json", "X-Amzn-Trace-Id": trace_id, "User-Agent": "probe/1"},
    )
    response = connection.getresponse()
    size = len(response.read())
    connection.close()
    deadline = time.monotonic() + 5
    lines: list[dict] = []
    while time.monotonic() < deadline and not lines:
        lines = [
            line
            for line in map(json.loads, filter(str.strip, model_server.log_lines()))
            if line.get("trace_id") == trace_id
        ]
        time.sleep(0.05)

    assert lines, "no access log line with the trace id"
    line = lines[0]
    assert {key: line[key] for key in ("logger", "message", "method", "path", "status", "user_agent")} == {
        "logger": "gunicorn.access",
        "message": "request",
        "method": "POST",
        "path": "/invocations",
        "status": 200,
        "user_agent": "probe/1",
    }
    assert line["response_bytes"] == size
    assert line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], int)


def test_sigterm_lets_an_in_flight_request_finish_and_exits_zero(model_dir: Path, start_model_server) -> None:
    server = start_model_server(model_dir, workers=1)
    address = (urlsplit(server.url).hostname, urlsplit(server.url).port)
    body = json.dumps({"instances": [SETOSA]}).encode()
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()

    with socket.create_connection(address, timeout=10) as connection:
        # Half a request is on the wire when the stop signal arrives: it is in flight.
        connection.sendall(head + body[:10])
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        time.sleep(0.3)
        connection.sendall(body[10:])
        reply = read_until_closed(connection)
        exit_code = server.process.wait(timeout=15)

    assert reply.startswith("HTTP/1.1 200"), reply
    assert '"setosa"' in reply
    assert exit_code == 0
    assert time.monotonic() - stopped_at < 10
    assert any("Shutting down" in line for line in server.log_lines())


def test_the_local_dev_command_trains_a_missing_model_and_serves_it(tmp_path: Path, start_model_server) -> None:
    model_dir = tmp_path / "fresh-model"

    server = start_model_server(model_dir, as_module=True, extra_args=("--train-if-missing",))
    answer = http_request(
        f"{server.url}/invocations",
        method="POST",
        body=json.dumps({"instances": [SETOSA]}).encode(),
    )

    assert (model_dir / "model.joblib").is_file()
    assert answer.status == 200
    assert answer.body["predictions"][0]["label"] == "setosa"
    assert server.stop() == 0


def post_chunked(server: RunningServer, body: bytes) -> tuple[int, dict]:
    """POST with Transfer-Encoding: chunked (no Content-Length), in 8 KiB chunks."""
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    connection = http.client.HTTPConnection(host, port, timeout=10)
    chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
    try:
        connection.request(
            "POST",
            "/invocations",
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_chunked_body_within_the_limit_is_served(model_server: RunningServer) -> None:
    status, body = post_chunked(model_server, json.dumps({"instances": [SETOSA] * 100}).encode())

    assert status == 200
    assert len(body["predictions"]) == 100


def test_a_chunked_body_over_the_limit_is_a_413(model_server: RunningServer) -> None:
    status, body = post_chunked(model_server, json.dumps({"instances": [SETOSA] * 5000}).encode())

    assert status == 413
    assert "65536 bytes" in body["error"]
