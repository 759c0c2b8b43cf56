"""The model server's gunicorn worker: connections spread over workers, keep-alive, single thread, shutdown."""

from __future__ import annotations

import http.client
import json
import os
import selectors
import signal
import socket
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from gunicorn import http as gunicorn_http
from gunicorn.config import Config

from containers.inference.server import worker as worker_module
from containers.inference.server.worker import BalancedWorker, ConnectionBoard
from tests.containers.model_server_process import (
    RunningServer,
    connection_owners,
    wait_for_workers,
)

BODY = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()
HEADERS = {"Content-Type": "application/json"}
BALANCE_SECONDS = 30.0


def connections_to(server: RunningServer, count: int) -> list[http.client.HTTPConnection]:
    """Open `count` keep-alive connections at once, before any request (a load generator, an ALB warming up)."""
    address = urlsplit(server.url)
    connections = [http.client.HTTPConnection(address.hostname, address.port, timeout=10) for _ in range(count)]
    for connection in connections:
        connection.connect()
    return connections


def invoke(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
    """POST one row; a connection the server closed (shed, or its worker died) is reopened, as clients do."""
    for attempt in range(2):
        try:
            connection.request("POST", "/invocations", body=BODY, headers=HEADERS)
            response = connection.getresponse()
            response.read()
            return response
        except ConnectionError:
            connection.close()
            if attempt:
                raise
    raise AssertionError("unreachable")


def spread(server: RunningServer, connections: list[http.client.HTTPConnection]) -> Counter[int]:
    """Connections per worker pid (0: not open right now)."""
    ports = [c.sock.getsockname()[1] if c.sock else -1 for c in connections]
    return Counter(connection_owners(server, ports))


def serve_until_even(
    server: RunningServer, connections: list[http.client.HTTPConnection], workers: int
) -> Counter[int]:
    """Send a request on every connection, round after round, until each worker holds an equal share."""
    deadline = time.monotonic() + BALANCE_SECONDS
    share = len(connections) // workers
    while True:
        assert all(invoke(connection).status == 200 for connection in connections)
        owners = spread(server, connections)
        if sorted(owners.values()) == [share] * workers and 0 not in owners:
            return owners
        if time.monotonic() > deadline:
            return owners
        time.sleep(0.05)


def test_keep_alive_connections_opened_together_are_shared_evenly_by_the_workers(
    model_dir: Path, start_model_server
) -> None:
    server = start_model_server(model_dir, workers=2)
    workers = wait_for_workers(server, 2)
    connections = connections_to(server, 8)

    owners = serve_until_even(server, connections, workers=2)

    assert set(owners) == workers
    assert sorted(owners.values()) == [4, 4]


def test_a_replaced_worker_gets_its_share_of_connections_opened_before_it_was_ready(
    model_dir: Path, start_model_server
) -> None:
    server = start_model_server(model_dir, workers=2)
    wait_for_workers(server, 2)
    connections = connections_to(server, 8)
    owners = serve_until_even(server, connections, workers=2)
    killed = next(iter(owners))

    # Its connections break; the clients reconnect while the replacement still loads the model, so all
    # of them land on the surviving worker.
    os.kill(killed, signal.SIGKILL)
    owners = serve_until_even(server, connections, workers=2)

    assert killed not in owners
    assert sorted(owners.values()) == [4, 4]


def test_each_worker_runs_one_thread_so_no_thread_pool_competes_for_the_cpus(
    model_dir: Path, start_model_server
) -> None:
    server = start_model_server(model_dir, workers=2)
    workers = wait_for_workers(server, 2)
    for connection in connections_to(server, 4):
        invoke(connection)  # numeric libraries start their thread pools lazily: use them first

    threads = {pid: len(os.listdir(f"/proc/{pid}/task")) for pid in workers}

    assert threads == {pid: 1 for pid in workers}


def test_an_idle_keep_alive_connection_is_served_again_after_a_pause(
    model_server: RunningServer,
) -> None:
    (connection,) = connections_to(model_server, 1)
    invoke(connection)
    port = connection.sock.getsockname()[1]

    time.sleep(2.5)  # longer than the worker's housekeeping period
    answer = invoke(connection)

    assert answer.status == 200
    assert connection.sock.getsockname()[1] == port  # the same TCP connection


def test_after_sigterm_a_request_on_a_kept_alive_connection_is_answered_and_closes_it(
    model_dir: Path, start_model_server
) -> None:
    server = start_model_server(model_dir, workers=1)
    wait_for_workers(server, 1)
    (connection,) = connections_to(server, 1)
    assert invoke(connection).getheader("Connection") == "keep-alive"

    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    connection.request("POST", "/invocations", body=BODY, headers=HEADERS)
    answer = connection.getresponse()
    answer.read()

    assert answer.status == 200
    assert answer.getheader("Connection") == "close"
    assert server.process.wait(timeout=15) == 0


# --- the balancing rules, without processes ---


@pytest.fixture
def worker() -> BalancedWorker:
    """A worker holding board slot 0 of a two-slot board; slot 1 is a sibling whose count tests set."""
    instance = BalancedWorker(1, os.getpid(), [], None, 30, Config(), None)
    instance.board = ConnectionBoard(2)
    instance.slot = 0
    instance.board.counts[0] = 0
    return instance


def hold(worker: BalancedWorker, count: int) -> None:
    worker.connections = dict.fromkeys(range(count))  # only the number matters here
    worker.publish_count()


def test_the_board_hands_out_the_lowest_free_slot_and_ignores_free_slots_in_its_minimum() -> None:
    board = ConnectionBoard(4)
    board.counts[1] = 7

    assert board.claim(taken={0, 1}) == 2
    assert board.least() == 7
    board.release(1)
    assert board.least() == ConnectionBoard.FREE


def test_a_worker_accepts_while_it_holds_no_more_than_the_least_loaded_one(
    worker: BalancedWorker,
) -> None:
    worker.board.counts[1] = 3

    hold(worker, 3)
    assert worker.my_turn()
    hold(worker, 4)
    assert not worker.my_turn()


def test_a_worker_sheds_a_connection_only_when_two_above_the_least_loaded(
    worker: BalancedWorker,
) -> None:
    worker.board.counts[1] = 3

    hold(worker, 4)
    assert not worker.holds_too_many(now=100.0)
    hold(worker, 5)
    assert worker.holds_too_many(now=100.0)


def test_a_worker_that_just_took_a_connection_out_of_turn_sheds_none_for_a_while(
    worker: BalancedWorker,
) -> None:
    worker.board.counts[1] = 3
    hold(worker, 5)

    worker.last_out_of_turn = 100.0

    assert not worker.holds_too_many(now=100.0 + worker_module.SHED_QUIET_SECONDS / 2)
    assert worker.holds_too_many(now=100.0 + worker_module.SHED_QUIET_SECONDS)


def test_connections_arriving_together_are_accepted_up_to_each_workers_fair_share() -> None:
    board = ConnectionBoard(3)
    board.counts[0], board.counts[1] = 2, 4  # slot 2 is free: no worker there

    assert board.fair_share(pending=10) == 8  # (2 + 4 + 10) / 2 live workers
    assert board.fair_share(pending=1) == 4  # 7 / 2, rounded up


def test_the_accept_queue_length_is_read_from_the_listening_socket() -> None:
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
    try:
        assert worker_module.accept_queue_length(listener) == 3
    finally:
        for client in clients:
            client.close()
        listener.close()


@pytest.fixture
def burst():
    """A listening socket with five connections waiting to be accepted; everything closed afterwards."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(5)]
    yield listener
    for client in clients:
        client.close()
    listener.close()


def accepting_worker(worker: BalancedWorker, listener: socket.socket) -> BalancedWorker:
    worker.sockets = [listener]
    listener.setblocking(False)
    worker.selector = selectors.DefaultSelector()
    worker.connections = {}
    return worker


def accepted(worker: BalancedWorker) -> int:
    """How many connections the worker accepted (closing them); placeholders from `hold` are not counted."""
    connections = [c for c in worker.connections.values() if isinstance(c, worker_module.Connection)]
    for connection in connections:
        worker.close(connection, graceful=False)
    return len(connections)


def test_a_worker_accepts_its_fair_share_of_a_burst_at_once_and_leaves_the_rest_waiting(
    worker: BalancedWorker, burst: socket.socket
) -> None:
    accepting_worker(worker, burst)
    worker.board.counts[1] = 0

    worker.accept_share(burst)

    assert len(worker.connections) == 3  # 5 waiting over 2 workers, rounded up
    assert worker.board.counts[0] == 3  # published for the sibling
    assert worker_module.accept_queue_length(burst) == 2
    assert accepted(worker) == 3


def test_a_worker_accepts_no_more_of_a_burst_than_its_connection_limit(
    worker: BalancedWorker, burst: socket.socket
) -> None:
    accepting_worker(worker, burst)
    worker.cfg.set("worker_connections", 2)
    worker.board.counts[1] = 0

    worker.accept_share(burst)

    assert accepted(worker) == 2


def test_a_worker_taking_a_connection_out_of_turn_accepts_only_one(
    worker: BalancedWorker, burst: socket.socket
) -> None:
    accepting_worker(worker, burst)
    worker.board.counts[1] = 0
    hold(worker, 10)  # above its share of 15 already: it accepts because the connection waited too long

    worker.accept_share(burst)

    assert accepted(worker) == 1
    assert worker_module.accept_queue_length(burst) == 4


def test_a_connection_waiting_too_long_for_the_least_loaded_worker_is_taken_by_another(
    worker: BalancedWorker,
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    worker.sockets = [listener]
    worker.board.counts[1] = 0
    hold(worker, 2)
    try:
        now, later = 100.0, 100.0 + 2 * worker_module.ACCEPT_PATIENCE_SECONDS
        assert not worker.should_accept(now)  # pending, but the sibling may still take it
        assert worker.should_accept(later)
        assert worker.last_out_of_turn == later

        worker.last_shed = now  # just shed one: leave connections to the sibling for a while
        assert not worker.should_accept(later)
    finally:
        client.close()
        listener.close()


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sent.append(data)


def parsed_request(raw: bytes):
    return next(gunicorn_http.get_parser(Config(), iter([raw]), ("127.0.0.1", 40000)))


def test_a_response_of_announced_length_leaves_in_one_send_headers_and_body_together() -> None:
    sock = RecordingSocket()
    request = parsed_request(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    response = worker_module.OneSendResponse(request, sock, Config())

    response.start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")])
    response.write(b'{"ok":true}')
    response.close()

    assert len(sock.sent) == 1
    head, _, body = sock.sent[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 11" in head
    assert body == b'{"ok":true}'
    assert response.sent == 11


def test_a_response_without_a_length_is_framed_by_gunicorn_as_before() -> None:
    sock = RecordingSocket()
    request = parsed_request(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    response = worker_module.OneSendResponse(request, sock, Config())

    response.start_response("200 OK", [("Content-Type", "application/json")])
    response.write(b"{}")
    response.close()

    assert b"Transfer-Encoding: chunked" in sock.sent[0]
    assert b"".join(sock.sent).endswith(b"2\r\n{}\r\n0\r\n\r\n")


def test_no_read_of_a_request_starts_after_its_deadline_so_a_trickling_client_is_cut_off() -> None:
    server_side, client_side = socket.socketpair()
    reader = worker_module.DeadlineSocket(server_side)
    try:
        client_side.sendall(b"POST /invo")
        reader.deadline = time.monotonic() + 60
        assert reader.recv(100) == b"POST /invo"

        client_side.sendall(b"cations HTTP/1.1\r\n")
        reader.deadline = time.monotonic() - 0.001
        with pytest.raises(TimeoutError):
            reader.recv(100)
    finally:
        server_side.close()
        client_side.close()
