"""In-process SMTP servers for the tests, each on a port the system hands it as it binds.

A port found free beforehand (`free_port()`) can be taken by another test's server before
aiosmtpd binds it; this server binds port 0 instead, so the port it reports is its own.
"""

from __future__ import annotations

from aiosmtpd.controller import Controller


class SinkController(Controller):
    """aiosmtpd's threaded controller on 127.0.0.1, on the port the system picked: `.port` is
    known once `start()` returns."""

    def __init__(self, handler, **smtp_options):
        super().__init__(handler, hostname="127.0.0.1", port=0, **smtp_options)

    def _trigger_server(self):
        # aiosmtpd connects to its own port to finish starting: the one port 0 became.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
