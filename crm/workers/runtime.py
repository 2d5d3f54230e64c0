"""The one container of a worker process, rebuilt after a fork so no connection is shared."""

from __future__ import annotations

import os
import threading

from crm.adapters.dispatch_markers import DispatchMarkers, dispatch_markers
from crm.bootstrap import Container, build
from crm.config import Settings
from crm.projectors.engine import ProjectorDaemon
from crm.workers.delivery import DeliveryBackend, build_backend

_lock = threading.Lock()
_state: dict = {}


def configure(settings: Settings, container: Container | None = None) -> None:
    """Use these settings (and, in the embedded worker, the web process's own container)."""
    with _lock:
        _state.clear()
        _state["settings"] = settings
        if container is not None:
            _state.update(pid=os.getpid(), container=container, embedded=True)


def is_embedded() -> bool:
    """True in a process whose worker runs inside the web server (no broker)."""
    with _lock:
        return "container" in _state and _state.get("pid") == os.getpid() and _state.get("embedded", False)


def container() -> Container:
    with _lock:
        if _state.get("pid") != os.getpid():
            inherited = _state.get("container")
            if inherited is not None:  # forked: leave the parent's connections to the parent
                inherited.engine.dispose(close=False)
            settings = _state.get("settings") or Settings.from_env()
            # Worker commands ask for no read-your-writes: the projector thread of the worker's
            # main process (inline mode) or `crm projector` (background) applies their events.
            built = build(settings)
            _state.update(pid=os.getpid(), container=built, settings=settings, embedded=False)
            _state.pop("backend", None)
            _state.pop("markers", None)
        return _state["container"]


def backend() -> DeliveryBackend:
    current = container()
    with _lock:
        if "backend" not in _state:
            _state["backend"] = build_backend(current.settings, current.engine)
        return _state["backend"]


def markers() -> DispatchMarkers:
    """This process's dispatch markers: in the broker's Redis, none on the embedded default."""
    current = container()
    with _lock:
        if "markers" not in _state:
            _state["markers"] = dispatch_markers(current.settings.broker_url)
        return _state["markers"]


def start_inline_projector(container: Container) -> ProjectorDaemon | None:
    """In inline mode, keep the read tables current with what workers record: a projector thread.

    Web processes apply their own commands' events before they answer; nobody waits for a
    worker's, so this thread (one active across worker processes: leases) follows the log for
    them. In background mode `crm projector` does it, and this returns None.
    """
    if container.settings.projection_mode != "inline":
        return None
    # Workers project their own events inline too: this thread only catches up what a command
    # left behind (one that failed between its commit and its projection), so it need not look
    # at every commit; a campaign commits a few hundred times a second.
    daemon = ProjectorDaemon(
        container.runner, poll_seconds=container.settings.projector_poll_seconds, min_wake_seconds=0.25
    )
    threading.Thread(target=daemon.run, name="worker-projector", daemon=True).start()
    return daemon
