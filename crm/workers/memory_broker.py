"""Celery's in-memory broker for the embedded worker, polled every 50 ms instead of every second.

kombu's virtual transports sleep `polling_interval` (1 s) after each empty poll, and Celery's
loop for such a transport drains with a 2-second timeout, checking for shutdown only between
drains. So the embedded worker picked a queued task up as much as a second late, and took up to
two seconds to stop. Short polls and short drains make it take work at once and stop within a
tenth of a second; an empty poll of an in-process queue costs next to nothing.
"""

from __future__ import annotations

from kombu.transport import memory

POLLING_SECONDS = 0.05
DRAIN_SECONDS = 0.1


class Transport(memory.Transport):
    polling_interval = POLLING_SECONDS

    def drain_events(self, connection, timeout=None):
        if timeout is not None:
            timeout = min(timeout, DRAIN_SECONDS)
        return super().drain_events(connection, timeout=timeout)
