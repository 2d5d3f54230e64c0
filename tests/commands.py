"""The application as its callers use it: run a command, then ask the read side to include it.

Views do this through `crm.http.responses`; tests do it through `Caller`, so that a test reads
the projections right after a command as a client would. A command returns its `Recorded`;
through the caller it returns the id, which is what the tests name things by.
"""

from __future__ import annotations

import functools

from crm.write_model.commands import Recorded


class Caller:
    """Wraps a container's application: every command is followed by `read_side.wait_for`."""

    def __init__(self, container):
        self._container = container
        self.stale: list[Recorded] = []  # commands the read side did not reach

    def __getattr__(self, name: str):
        attribute = getattr(self._container.application, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args, **kwargs):
            result = attribute(*args, **kwargs)
            if not isinstance(result, Recorded):
                return result
            read_side = self._container.read_side
            if not read_side.wait_for(result.position, read_side.concerned(result.topics)):
                self.stale.append(result)
            return result.id

        return call
