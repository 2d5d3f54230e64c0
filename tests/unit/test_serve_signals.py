"""A server worker process stopped while it boots ends at once instead of ignoring the signal."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

# A process that handles its signals as a just-forked gunicorn worker does (with the arbiter's
# handler, which only queues the signal), is sent SIGTERM or SIGINT, and then "boots" for a second.
CHILD = """
import os, signal, sys, time
from crm.serve import _stop_on_signals_while_booting
queued = []
for number in (signal.SIGTERM, signal.SIGINT):
    signal.signal(number, lambda number, frame: queued.append(number))
if sys.argv[1] == "hook":
    _stop_on_signals_while_booting(server=None, worker=None)
os.kill(os.getpid(), int(sys.argv[2]))
time.sleep(1)
sys.exit(3 if queued else 0)
"""


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_before_the_workers_own_handlers_ends_it(number):
    ended = subprocess.run([sys.executable, "-c", CHILD, "hook", str(int(number))], timeout=30)
    assert ended.returncode == -number


def test_without_it_the_inherited_handler_swallows_the_signal():
    ended = subprocess.run([sys.executable, "-c", CHILD, "none", str(int(signal.SIGTERM))], timeout=30)
    assert ended.returncode == 3


def test_a_signal_queued_for_the_arbiter_before_the_hook_ends_the_worker():
    # The signal came between the fork and the hook: the inherited handler queued it.
    queued = subprocess.run(
        [sys.executable, "-c", QUEUED, str(int(signal.SIGTERM))], capture_output=True, text=True, timeout=30
    )
    assert queued.returncode == 0 and "booted" not in queued.stdout
    # Another signal queued (a TTIN: one more worker) is not a stop.
    other = subprocess.run(
        [sys.executable, "-c", QUEUED, str(int(signal.SIGTTIN))], capture_output=True, text=True, timeout=30
    )
    assert other.returncode == 0 and "booted" in other.stdout


QUEUED = """
import queue, sys
from types import SimpleNamespace
from crm.serve import _stop_on_signals_while_booting
signals = queue.SimpleQueue()  # gunicorn's arbiter keeps its queue so
signals.put_nowait(int(sys.argv[1]))
_stop_on_signals_while_booting(server=SimpleNamespace(SIG_QUEUE=signals), worker=None)
print("booted")
"""


# An arbiter (a queueing handler) forks workers with the hooks around the fork, or without, and
# sends each SIGTERM the moment it is forked, before it has run. Each worker "boots" for half a
# second. Prints how the workers ended, and whether the arbiter still held the signal afterwards.
FORKED = """
import os, queue, signal, sys, time
from types import SimpleNamespace
from crm import serve
server = SimpleNamespace(SIG_QUEUE=queue.SimpleQueue())
signal.signal(signal.SIGTERM, lambda number, frame: server.SIG_QUEUE.put_nowait(number))
hooked = sys.argv[1] == "hooks"
if hooked:
    serve._release_after_each_fork()
ended = []
for _ in range(10):
    if hooked:
        serve._hold_stopping_signals(server, None)
    pid = os.fork()
    if pid == 0:
        if hooked:
            serve._stop_on_signals_while_booting(server, None)
        time.sleep(0.5)
        os._exit(3)
    os.kill(pid, signal.SIGTERM)
    status = os.waitpid(pid, 0)[1]
    ended.append(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
print(sorted(set(ended)), signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []))
"""


def test_a_worker_sent_sigterm_before_it_has_run_stops():
    run = subprocess.run([sys.executable, "-c", FORKED, "hooks"], capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == [f"[{-signal.SIGTERM}]", "False"], run.stderr


def test_without_holding_it_over_the_fork_that_sigterm_is_lost():
    run = subprocess.run([sys.executable, "-c", FORKED, "none"], capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == ["[3]", "False"], run.stderr
