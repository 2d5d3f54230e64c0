"""Rate limits counted in Redis a block of requests at a time (a lease), shared by every web process.

Counting each request in Redis cost a round trip per request: 6-9% of a request's CPU in a web
process (docs/benchmarks.md). A process instead takes a lease of `lease_size(limit)` requests
from the window's counter in one round trip (`INCRBY`) and spends it locally; the window's
counter counts a lease before any of it is spent, so the requests served in a window never
exceed the limit. A lease ends with its window (the counter's time to live, read in the same
round trip): what is left of it is dropped, never carried into the next window. The price: a
client at its limit may be refused a little early, by what other processes leased and have not
spent (at most `lease_size - 1` each). Limits under `LEASE_FROM` a window lease one request at a
time, which is counting each request exactly.

Windows are fixed and start at a credential's first request, as with the `limits` library's
fixed window (which counts in memory when there is no Redis).
"""

from __future__ import annotations

import threading
import time

from limits import RateLimitItem

LEASE_FROM = 128  # a limit below this many requests a window is counted one request at a time
LEASES_PER_WINDOW = 64  # otherwise a lease is this fraction of the limit
_MAX_HELD = 10_000  # credentials whose leases a process keeps (then it starts over)

# Takes `ARGV[1]` from the counter, starting its window (`ARGV[2]` ms) if it is the first
# take; returns the count after it and the window's time left in milliseconds.
_TAKE = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    left = tonumber(ARGV[2])
end
return {count, left}
"""


def lease_size(limit: int) -> int:
    """How many requests a process takes from a window of `limit` at a time."""
    return 1 if limit < LEASE_FROM else limit // LEASES_PER_WINDOW


class SharedLeases:
    """One web process's leases on the windows counted in Redis (`client`, redis-py's)."""

    def __init__(self, client, prefix: str):
        self._take = client.register_script(_TAKE)
        self._prefix = prefix
        self._held: dict[str, tuple[float, int]] = {}  # key: (lease's end, monotonic; requests left)
        self._lock = threading.Lock()  # the process's request threads share the leases

    def hit(self, limit: RateLimitItem, *identifiers: str) -> float | None:
        """Count one request against `limit` for `identifiers`: None if it is allowed, else the
        seconds until its window ends. Raises redis-py's errors when Redis fails."""
        key = f"{self._prefix}/{limit.key_for(*identifiers)}"
        with self._lock:
            held = self._held.get(key)
            if held is not None and held[1] > 0 and time.monotonic() < held[0]:
                self._held[key] = (held[0], held[1] - 1)
                return None
        size = lease_size(limit.amount)
        asked_at = time.monotonic()  # before Redis read the time left: the lease ends no later
        count, left_ms = self._take(keys=[key], args=[size, limit.get_expiry() * 1000])
        granted = min(size, limit.amount - (count - size))
        if granted <= 0:
            return left_ms / 1000
        ends, left = asked_at + left_ms / 1000, granted - 1  # this request takes one
        with self._lock:
            if len(self._held) >= _MAX_HELD:
                self._held.clear()
            held = self._held.get(key)
            if held is not None and held[1] > 0 and time.monotonic() < held[0]:
                # Other threads took leases meanwhile: their rest is kept with this one's (not
                # dropped, which refused up to a fifth of a busy key's limit), all of it ending
                # with the earlier window, so none is spent after its own window.
                ends, left = min(ends, held[0]), left + held[1]
            self._held[key] = (ends, left)
        return None
