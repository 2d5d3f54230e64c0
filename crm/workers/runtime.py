"""The one container of a worker process, rebuilt after a fork so no connection is shared."""

from __future__ import annotations

import os
import threading

from crm.bootstrap import Container, build
from crm.config import Settings
from crm.projectors.runner import ProjectionPump
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
            built = build(settings)
            # Worker commands need no read-your-writes: inline mode projects in a background
            # thread instead; in background mode `crm projector` does it and nobody waits.
            pump = [ProjectionPump(built.runner).on_saved] if settings.projection_mode == "inline" else []
            built.application.saved_observers[:] = pump
            _state.update(pid=os.getpid(), container=built, settings=settings, embedded=False)
            _state.pop("backend", None)
        return _state["container"]


def backend() -> DeliveryBackend:
    current = container()
    with _lock:
        if "backend" not in _state:
            _state["backend"] = build_backend(current.settings, current.engine)
        return _state["backend"]
