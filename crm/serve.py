"""Runs the web application under a production WSGI server (gunicorn; waitress on Windows)."""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import tempfile

from crm import metrics
from crm.config import Settings
from crm.http.connections import close_when_body_too_long

# gunicorn's longest request line (its maximum): above the app's MAX_URI_BYTES, so that a long
# URI reaches the app and is answered there (414, JSON) rather than by gunicorn.
REQUEST_LINE_LIMIT = 8190  # > MAX_URI_BYTES + len("OPTIONS  HTTP/1.1")


def _workers(settings: Settings) -> int:
    if settings.web_concurrency:
        return settings.web_concurrency
    # SQLite takes writes from one process at a time: one process, many threads.
    return 1 if settings.is_sqlite else min(2 * (os.cpu_count() or 1) + 1, 8)


def _web_app(settings: Settings):
    """The Flask app of one server process, with the embedded worker when there is no broker."""
    from crm.bootstrap import build
    from crm.http import create_app

    container = build(settings)
    if not settings.broker_url:
        from crm.workers.embedded import EmbeddedWorker

        EmbeddedWorker(container).start()
    return create_app(container=container)


def _metrics_directory() -> None:
    """Worker processes write their metrics to one directory, which a scrape of any adds up:
    the given PROMETHEUS_MULTIPROC_DIR, else a fresh one. Emptied at start (old pids' files)."""
    directory = os.environ.get(metrics.MULTIPROCESS_DIR) or tempfile.mkdtemp(prefix="crm-metrics-")
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))
    os.environ[metrics.MULTIPROCESS_DIR] = directory


_STOPPING = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


_held_in: int | None = None  # the process whose stopping signals are held over a fork


def _hold_stopping_signals(server, worker) -> None:
    """Just before the arbiter forks a worker: the stopping signals wait in the kernel until the
    new process can act on them. A signal that reaches a Python process before it has run after
    the fork trips the inherited handler, and then CPython clears every tripped signal on its
    way out of `fork()`: the arbiter's SIGTERM to a worker it had just forked was lost, and the
    server waited out its whole graceful timeout (30 s) for that worker."""
    global _held_in
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    _held_in = os.getpid()


def _release_in_arbiter() -> None:
    """After the fork, in the arbiter: what came meanwhile is delivered to its handlers now."""
    global _held_in
    if _held_in == os.getpid():
        _held_in = None
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)


_fork_hooked = False


def _release_after_each_fork() -> None:
    global _fork_hooked
    if not _fork_hooked:
        os.register_at_fork(after_in_parent=_release_in_arbiter)
        _fork_hooked = True


def _stop_on_signals_while_booting(server, worker) -> None:
    """A new worker process inherits the arbiter's signal handlers, which only queue the signal
    for the arbiter: a SIGTERM that came before the worker set its own was lost, and a server
    stopped just as it started a worker waited out the whole graceful timeout (30 s) for it.
    Until the worker installs its handlers, these signals end it at once: it serves nothing yet."""
    global _held_in
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, signal.SIG_DFL)
    # Held since the fork (see _hold_stopping_signals): one sent meanwhile is delivered here.
    _held_in = None
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)
    # One that came before the fork, or a SIGQUIT, went to the inherited handler, which queued
    # it on this process's copy of the arbiter: the server is stopping, so this worker stops now.
    if any(number in _STOPPING for number in _queued_signals(server)):
        sys.exit(0)


def _queued_signals(server) -> list:
    """What the arbiter's handler queued in this process (gunicorn 27: a SimpleQueue; a list before)."""
    pending = getattr(server, "SIG_QUEUE", [])
    if isinstance(pending, list):
        return pending
    queued = []
    while True:
        try:
            queued.append(pending.get_nowait())
        except queue.Empty:
            return queued


class _Written:
    """A socket that keeps what gunicorn writes to it (its error page, for its status line)."""

    def __init__(self):
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data

    def status_line(self) -> str:
        line = self.data.split(b"\r\n", 1)[0].decode("latin-1")  # "HTTP/1.1 414 URI Too Long"
        return line.partition(" ")[2] or "500 Internal Server Error"


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted. Each worker process builds its own application after fork."""
    if sys.platform == "win32":
        import waitress

        waitress.serve(_web_app(settings), host=host, port=port, threads=8)
        return

    _metrics_directory()  # before any worker imports prometheus_client
    from gunicorn import util
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger
    from gunicorn.workers.gthread import ThreadWorker

    class _Logger(Logger):
        """gunicorn's records go through the process's own handler (JSON lines, see crm.logs)."""

        def setup(self, cfg):
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                logger.handlers.clear()
                logger.propagate = True

    class _Worker(ThreadWorker):
        """gunicorn's own answers (a request it cannot parse, a request line or headers over its
        limits) with their status, as JSON like every other error rather than an HTML page."""

        def handle_error(self, req, client, addr, exc):
            written = _Written()
            super().handle_error(req, written, addr, exc)  # logs it, and decides the status
            status, _, reason = written.status_line().partition(" ")
            message = "Internal server error." if status == "500" else f"{reason}: {exc}"
            body = json.dumps({"message": message}).encode()
            head = (
                f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            try:
                util.write_nonblock(client, head.encode("latin-1") + body)
            except Exception:  # the client went away: as gunicorn does, nothing more to do
                self.log.debug("Failed to send error message.")

    class _Gunicorn(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", _workers(settings))
            self.cfg.set("worker_class", _Worker)
            self.cfg.set("limit_request_line", REQUEST_LINE_LIMIT)
            self.cfg.set("threads", 8)
            self.cfg.set("loglevel", settings.log_level.lower())
            self.cfg.set("logger_class", _Logger)
            self.cfg.set("accesslog", "-" if settings.log_level == "DEBUG" else None)
            self.cfg.set("preload_app", False)
            self.cfg.set("control_socket_disable", True)  # one shared per-user socket otherwise
            # A request whose body will not be read closes its connection, and says so.
            self.cfg.set("pre_request", close_when_body_too_long(settings.max_body_bytes))
            self.cfg.set("child_exit", lambda server, worker: metrics.mark_process_dead(worker.pid))
            self.cfg.set("pre_fork", _hold_stopping_signals)
            self.cfg.set("post_fork", _stop_on_signals_while_booting)

        def load(self):
            return _web_app(settings)

    _release_after_each_fork()
    _Gunicorn().run()
