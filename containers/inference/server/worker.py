"""The gunicorn worker of the model server: one thread, keep-alive connections, spread evenly across workers.

Why not gunicorn's gthread worker (measured, see docs/runtime.md, "Why the server is built this way"):
- gthread passes every request from its poller thread to a pool thread and back through a pipe. Inference holds
  the GIL, so the threads add GIL handoffs and context switches, not parallelism: one thread serves faster.
- A worker accepts every connection it is offered. Keep-alive connections opened together (a load generator, an
  ALB warming up) all land on the worker that woke first and stay there, leaving the other CPUs idle.

This worker serves each request inline in its only thread, and accepts a new connection only while it holds no
more connections than the least-loaded worker: every worker's count sits in memory shared with the master
(`ConnectionBoard`), the way Envoy's exact connection balancing counts per thread. A connection left waiting
longer than ACCEPT_PATIENCE_SECONDS is taken by any worker, so a busy or stuck worker never strands it.
Connections opened before a worker was ready (start-up, a restarted worker) would stay where they landed, so a
worker holding more than one connection above the least-loaded answers its next request with
`Connection: close`: the client reconnects, and the least-loaded worker accepts.

Idle connections stay open `keepalive` seconds (longer than the ALB's idle timeout). On SIGTERM the worker stops
accepting, finishes the request in hand, answers requests already sent on kept-alive connections with
`Connection: close` for up to STOP_LINGER_SECONDS, then exits.

A slow client holds its worker while it sends a request, so no read of a request starts later than
REQUEST_READ_SECONDS after its first byte, and none waits longer than that: a request arrives within twice that, or
its connection is closed (gunicorn's sync worker, which SageMaker's own containers use, has no such bound; gthread
bounds only the wait for the first byte). The callers here are an ALB, SageMaker's
front end or services on the same private network, which send a request in milliseconds.
"""

from __future__ import annotations

import errno
import gc
import mmap
import os
import select
import selectors
import socket
import struct
import sys
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

from gunicorn import http, util
from gunicorn.http import wsgi
from gunicorn.workers import base

# How long a pending connection may wait for the least-loaded worker before any worker takes it.
ACCEPT_PATIENCE_SECONDS = 0.1
# A worker that just shed a connection takes none out of turn for this long, and one that just took a connection
# out of turn sheds none: on a starved machine the two would otherwise bounce the same client back and forth.
SHED_QUIET_SECONDS = 1.0
# How often a worker that is not the least loaded looks again at the counts and the listener.
REBALANCE_POLL_SECONDS = 0.02
# The longest a request may take to arrive whole, and a response's write or an unread body's drain may block.
REQUEST_READ_SECONDS = 5.0
# How long a stopping worker keeps kept-alive connections for requests already on their way (gthread's value).
STOP_LINGER_SECONDS = 2.0
# The heartbeat file and the parent check are syscalls: once a second is plenty against a 60 s timeout.
HEARTBEAT_SECONDS = 1.0


class ConnectionBoard:
    """Open connections per worker slot, in anonymous shared memory: forked workers see each other's counts.

    The master assigns slots (`claim`, `release`); each worker writes only its own slot, so no lock is needed.
    """

    FREE = 2**62  # larger than any count, so min() over the board skips free slots

    def __init__(self, slots: int) -> None:
        self._memory = mmap.mmap(-1, slots * 8)  # MAP_SHARED | MAP_ANONYMOUS
        self.counts = memoryview(self._memory).cast("q")
        for slot in range(slots):
            self.counts[slot] = self.FREE

    def claim(self, taken: set[int]) -> int | None:
        """The lowest slot no live worker holds (None when all are held: that worker then accepts freely)."""
        return next((slot for slot in range(len(self.counts)) if slot not in taken), None)

    def release(self, slot: int) -> None:
        self.counts[slot] = self.FREE

    def least(self) -> int:
        return min(self.counts)

    def fair_share(self, pending: int) -> int:
        """Connections per live worker once `pending` more are accepted, rounded up."""
        live = [count for count in self.counts if count != self.FREE]
        return -(-(sum(live) + pending) // max(1, len(live)))


def accept_queue_length(listener: socket.socket) -> int:
    """Connections waiting to be accepted: Linux reports it in TCP_INFO's tcpi_unacked for a listening socket
    (gunicorn reads it the same way for its backlog metric). 1 where it cannot be read (a Unix socket)."""
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        return max(1, struct.unpack_from("I", info, 24)[0])
    except (AttributeError, OSError, struct.error):
        return 1


class DeadlineSocket:
    """What the HTTP parser reads from: no recv() of a request starts after its deadline, so a client trickling a
    byte at a time cannot hold the worker for long (each recv() is bounded by the socket's own timeout)."""

    __slots__ = ("sock", "deadline")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline = float("inf")

    def recv(self, size: int) -> bytes:
        if time.monotonic() > self.deadline:
            raise TimeoutError("request not received in time")
        return self.sock.recv(size)

    def __getattr__(self, name: str) -> Any:  # settimeout, gettimeout for gunicorn's body drain
        return getattr(self.sock, name)


class Connection:
    """A kept-alive client socket and its HTTP parser (which holds bytes read ahead of the next request)."""

    __slots__ = ("sock", "client", "server", "reader", "parser", "idle_since")

    def __init__(self, sock: socket.socket, client: Any, server: Any, cfg: Any) -> None:
        self.sock = sock
        self.client = client
        self.server = server
        self.reader = DeadlineSocket(sock)
        self.parser = http.get_parser(cfg, self.reader, client)
        self.idle_since = time.monotonic()

    def has_buffered_request(self) -> bool:
        """A pipelined request already read into the parser does not make the socket readable again."""
        return bool(self.parser.unreader.buf.getvalue())


class _Collector:
    """Stands in for the socket while a response is written, so its pieces leave in one send."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.parts.append(data)


class OneSendResponse(wsgi.Response):
    """Sends the header block and a body of announced length together: one TCP segment for a small JSON answer,
    instead of gunicorn's two (headers, then body), so the client wakes once per response."""

    def write(self, arg: bytes) -> None:
        if self.headers_sent or self.chunked or self.response_length != len(arg):
            super().write(arg)
            return
        sock, collector = self.sock, _Collector()
        self.sock = collector
        try:
            super().write(arg)  # gunicorn's own framing and bookkeeping, written into the collector
        finally:
            self.sock = sock
        sock.sendall(b"".join(collector.parts))


class BalancedWorker(base.Worker):
    """Single-threaded keep-alive worker that balances connections across its siblings (see module doc)."""

    board: ConnectionBoard | None = None  # created in the master by the first `assign_slot`
    BOARD_SLOTS = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot: int | None = None
        self.connections: OrderedDict[socket.socket, Connection] = OrderedDict()
        self.selector: selectors.BaseSelector | None = None
        self.accepting = False
        self.pending_since: float | None = None
        self.last_shed = float("-inf")
        self.last_out_of_turn = float("-inf")

    # --- master side (gunicorn_conf.py hooks) ---

    def assign_slot(self, siblings: Any) -> None:
        """pre_fork: give this worker a board slot no live sibling holds."""
        if BalancedWorker.board is None:  # room for TTIN-added workers; any beyond accept freely
            BalancedWorker.board = ConnectionBoard(max(self.BOARD_SLOTS, 2 * self.cfg.workers))
        taken = {getattr(worker, "slot", None) for worker in siblings}
        self.slot = BalancedWorker.board.claim(taken)

    def release_slot(self) -> None:
        """child_exit: a dead worker's connections are gone; its siblings must stop waiting for it."""
        if BalancedWorker.board is not None and self.slot is not None:
            BalancedWorker.board.release(self.slot)

    # --- worker side ---

    def publish_count(self) -> None:
        if self.board is not None and self.slot is not None:
            self.board.counts[self.slot] = len(self.connections)

    def holds_too_many(self, now: float) -> bool:
        """More than one connection above the least-loaded worker, and none taken out of turn lately: shed one."""
        if self.board is None or self.slot is None or now - self.last_out_of_turn < SHED_QUIET_SECONDS:
            return False
        return len(self.connections) > self.board.least() + 1

    def my_turn(self) -> bool:
        """True when this worker holds no more connections than the least-loaded one (ties all accept)."""
        if self.board is None or self.slot is None:
            return True
        return len(self.connections) <= self.board.least()

    def should_accept(self, now: float) -> bool:
        if not self.alive or len(self.connections) >= self.cfg.worker_connections:
            return False
        if self.my_turn():
            self.pending_since = None
            return True
        # Not our turn: take a connection anyway once it has waited too long for the least-loaded worker.
        if now - self.last_shed < SHED_QUIET_SECONDS:
            return False
        ready, _, _ = select.select(self.sockets, [], [], 0)
        if not ready:
            self.pending_since = None
            return False
        if self.pending_since is None:
            self.pending_since = now
        if now - self.pending_since < ACCEPT_PATIENCE_SECONDS:
            return False
        self.last_out_of_turn = now
        return True

    def set_accepting(self, accepting: bool) -> None:
        if accepting == self.accepting:
            return
        for listener in self.sockets:
            if accepting:
                self.selector.register(listener, selectors.EVENT_READ, listener)
            else:
                self.selector.unregister(listener)
        self.accepting = accepting

    def run(self) -> None:
        # The model and the libraries are loaded for good: keep their ~100k objects out of every garbage
        # collection, whose full pass otherwise stalls all requests in hand for tens of milliseconds.
        gc.freeze()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.PIPE[0], selectors.EVENT_READ, None)  # signal wake-ups
        for listener in self.sockets:
            listener.setblocking(False)
        self.publish_count()
        next_heartbeat = 0.0
        while self.alive:
            now = time.monotonic()
            if now >= next_heartbeat:
                self.notify()
                if not self.is_parent_alive():
                    break
                self.close_idle(now - self.cfg.keepalive)
                next_heartbeat = now + HEARTBEAT_SECONDS
            accepting = self.should_accept(now)
            self.set_accepting(accepting)
            timeout = HEARTBEAT_SECONDS if accepting else REBALANCE_POLL_SECONDS
            self.dispatch(self.selector.select(timeout))
        self.stop_gracefully()

    def dispatch(self, events: list[tuple[selectors.SelectorKey, int]]) -> None:
        for key, _ in events:
            target = key.data
            if target is None:
                drain_pipe(self.PIPE[0])
            elif isinstance(target, Connection):
                self.serve(target)
            elif self.accepting:  # a listener; an earlier accept in this batch may have ended our turn
                self.accept_share(target)

    def accept_share(self, listener: socket.socket) -> None:
        """Accept up to this worker's fair share of the connections waiting, not one at a time: connections that
        arrive together (a load generator, an ALB scaling up) then need no back-and-forth between workers, which
        on a busy machine costs a scheduling delay per connection."""
        wanted = 1
        if self.board is not None and self.slot is not None:
            wanted = self.board.fair_share(accept_queue_length(listener)) - len(self.connections)
        room = self.cfg.worker_connections - len(self.connections)
        for _ in range(max(1, min(wanted, room))):
            if not self.accept(listener):
                return

    def accept(self, listener: socket.socket) -> bool:
        """Accept one connection; False when none was waiting (a sibling took it)."""
        try:
            client_sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return False
        client_sock.settimeout(REQUEST_READ_SECONDS)
        util.close_on_exec(client_sock)
        connection = Connection(client_sock, client, listener.getsockname(), self.cfg)
        self.connections[client_sock] = connection
        self.selector.register(client_sock, selectors.EVENT_READ, connection)
        self.publish_count()
        self.pending_since = None
        return True

    def serve(self, connection: Connection) -> None:
        """Answer the request(s) waiting on a readable connection; close it unless it stays alive."""
        keep = self.handle(connection)
        while keep and connection.has_buffered_request():
            keep = self.handle(connection)
        if keep:
            connection.idle_since = time.monotonic()
            self.connections.move_to_end(connection.sock)
        else:
            self.close(connection)

    def close(self, connection: Connection, graceful: bool = True) -> None:
        self.selector.unregister(connection.sock)
        del self.connections[connection.sock]
        self.publish_count()
        if graceful:
            util.close_graceful(connection.sock)
        else:
            util.close(connection.sock)

    def close_idle(self, idle_before: float) -> None:
        """Close connections idle since before `idle_before` (the oldest first: the dict is in use order)."""
        while self.connections:
            connection = next(iter(self.connections.values()))
            if connection.idle_since >= idle_before:
                return
            self.close(connection, graceful=False)

    def stop_gracefully(self) -> None:
        self.set_accepting(False)
        if self.board is not None and self.slot is not None:
            self.board.release(self.slot)  # siblings stop counting on this worker to take connections
            self.slot = None
        deadline = time.monotonic() + min(STOP_LINGER_SECONDS, self.cfg.graceful_timeout)
        while self.connections:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.notify()
            self.dispatch(self.selector.select(min(remaining, HEARTBEAT_SECONDS)))
        for connection in list(self.connections.values()):
            self.close(connection, graceful=False)
        self.selector.close()

    def is_parent_alive(self) -> bool:
        if self.ppid != os.getppid():
            self.log.info("Parent changed, shutting down: %s", self)
            return False
        return True

    def handle(self, connection: Connection) -> bool:
        """One request on the connection; True when the connection may serve another."""
        req = None
        connection.reader.deadline = time.monotonic() + REQUEST_READ_SECONDS
        try:
            req = next(connection.parser)
            if not self.handle_request(connection, req):
                return False
            # A body the application did not read would look like the next request: drain it (bounded).
            return bool(connection.parser.finish_body(deadline=time.monotonic() + REQUEST_READ_SECONDS))
        except (http.errors.NoMoreData, StopIteration):
            return False  # the client closed the connection, or HTTP says this was the last request
        except TimeoutError:
            self.log.debug("Closing a connection whose request did not arrive in %ss", REQUEST_READ_SECONDS)
            return False
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.exception("Socket error processing request.")
            return False
        except Exception as error:
            self.handle_error(req, connection.sock, connection.client, error)
            return False

    def handle_request(self, connection: Connection, req: Any) -> bool:
        """gunicorn's sync handling, minus its forced close: True when the response kept the connection open."""
        environ: dict[str, Any] = {}
        resp = None
        try:
            self.cfg.pre_request(self, req)
            request_start = datetime.now()
            resp, environ = wsgi.create(
                req,
                connection.sock,
                connection.client,
                connection.server,
                self.cfg,
                response_class=OneSendResponse,
            )
            self.nr += 1
            if self.nr >= self.max_requests and self.alive:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            if not self.alive or not self.cfg.keepalive:
                resp.force_close()
            elif self.holds_too_many(time.monotonic()):
                resp.force_close()
                self.last_shed = time.monotonic()
            respiter = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(respiter, environ["wsgi.file_wrapper"]):
                    resp.write_file(respiter)
                else:
                    for item in respiter:
                        resp.write(item)
                resp.close()
            finally:
                self.log.access(resp, req, environ, datetime.now() - request_start)
                if hasattr(respiter, "close"):
                    respiter.close()
            return not resp.should_close()
        except OSError:
            util.reraise(*sys.exc_info())
        except (Exception, SystemExit):
            if resp and resp.headers_sent:
                # Timeout abort is SystemExit. A started response cannot turn into a 500: close instead.
                self.log.exception("Error handling request")
                raise StopIteration() from None
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")


def drain_pipe(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
