"""Free ports, and servers started on one that are known to be the ones listening there.

A free port is only free when it is asked for: between `free_port()` and the server's bind,
another process (a server another test worker is starting) may take it. The new server then
fails to bind and retries, while the port already answers, and requests meant for it reach the
other server: a test of `crm serve` on SQLite saw 401 for a key it had just created, from some
other test's server. `serve_on_free_port` waits until the started process itself holds the
listening socket, and moves to another port when another process holds it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

_LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp


def free_port() -> int:
    """A port nobody listens on now (see the module's docstring for what that promises)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening_sockets(port: int) -> set[str]:
    """The inodes of the sockets listening on TCP `port` in this network namespace (Linux)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    if fields[3] == _LISTEN and int(fields[1].rpartition(":")[2], 16) == port:
                        inodes.add(f"socket:[{fields[9]}]")
        except FileNotFoundError:
            continue
    return inodes


def _holds(pid: int, inodes: set[str]) -> bool:
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # gone
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{descriptor}") in inodes:
                return True
        except OSError:
            continue
    return False


def listener(process: subprocess.Popen, port: int) -> str | None:
    """Who listens on `port`: "ours" when `process` holds the socket, "other" when another
    process does, None when nobody does yet."""
    inodes = _listening_sockets(port)
    if not inodes:
        return None
    return "ours" if _holds(process.pid, inodes) else "other"


class ServerDidNotStart(AssertionError):
    pass


def serve_on_free_port(
    start: Callable[[int], subprocess.Popen],
    stop: Callable[[subprocess.Popen], None],
    log: Callable[[], str],
    *,
    timeout: float = 30,
    attempts: int = 5,
    port: int | None = None,
) -> tuple[subprocess.Popen, int]:
    """Start a server with `start(port)` on a free port, and return it and the port once that
    process listens there. When another process took the port first, `stop` the server and
    start it again on another port. With `port` (a server started again where its clients
    expect it), on that port only: another process holding it fails."""
    fixed = port
    for _ in range(1 if fixed else attempts):
        port = fixed or free_port()
        process = start(port)
        deadline = time.monotonic() + timeout
        while True:
            holder = listener(process, port)
            if holder == "ours":
                return process, port
            if holder == "other":
                stop(process)
                break
            if process.poll() is not None:
                raise ServerDidNotStart(f"the server exited ({process.returncode}):\n{log()[-4000:]}")
            if time.monotonic() > deadline:
                stop(process)
                raise ServerDidNotStart(f"the server did not listen within {timeout:.0f} s:\n{log()[-4000:]}")
            time.sleep(0.05)
    if fixed:
        raise ServerDidNotStart(f"another process holds port {fixed}")
    raise ServerDidNotStart(f"another process took each of {attempts} free ports first")


def crm_serve(env: dict, log_path: Path, **popen) -> Callable[[int], subprocess.Popen]:
    """A `start` for `serve_on_free_port`: `python -m crm serve` with `env` on the port given,
    its output appended to `log_path` (a pipe nobody reads fills up, and a server blocked
    writing its log does not stop when told to)."""

    def start(port: int) -> subprocess.Popen:
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "crm", "serve"],
                env={**env, "PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
                **popen,
            )

    return start


def terminate(process: subprocess.Popen, timeout: float = 20) -> bool:
    """SIGTERM, and wait for the process to end; False if it had not within `timeout` seconds
    (it is then killed)."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        return False
