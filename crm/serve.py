"""Runs the web application under a production WSGI server (gunicorn; waitress on Windows)."""

from __future__ import annotations

import os
import sys
import tempfile

from crm import metrics
from crm.config import Settings
from crm.http.connections import close_when_body_too_long


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


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted. Each worker process builds its own application after fork."""
    if sys.platform == "win32":
        import waitress

        waitress.serve(_web_app(settings), host=host, port=port, threads=8)
        return

    _metrics_directory()  # before any worker imports prometheus_client
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    class _Logger(Logger):
        """gunicorn's records go through the process's own handler (JSON lines, see crm.logs)."""

        def setup(self, cfg):
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                logger.handlers.clear()
                logger.propagate = True

    class _Gunicorn(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", _workers(settings))
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 8)
            self.cfg.set("loglevel", settings.log_level.lower())
            self.cfg.set("logger_class", _Logger)
            self.cfg.set("accesslog", "-" if settings.log_level == "DEBUG" else None)
            self.cfg.set("preload_app", False)
            self.cfg.set("control_socket_disable", True)  # one shared per-user socket otherwise
            # A request whose body will not be read closes its connection, and says so.
            self.cfg.set("pre_request", close_when_body_too_long(settings.max_body_bytes))
            self.cfg.set("child_exit", lambda server, worker: metrics.mark_process_dead(worker.pid))

        def load(self):
            return _web_app(settings)

    _Gunicorn().run()
