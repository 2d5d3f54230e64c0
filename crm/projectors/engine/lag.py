"""How a projection that could not keep up with a command is reported: the command stands, the
read model lags until the next catch-up."""

from __future__ import annotations

import logging

from crm.adapters.availability import database_unavailable


def report_lag(log: logging.Logger, error: BaseException) -> None:
    """A warning, without a traceback, when the database is unavailable (expected while it
    restarts); otherwise an error with the traceback."""
    if database_unavailable(error):
        log.warning(
            "projection stopped: the database is unavailable (%s); the read model lags until the next catch-up",
            type(error).__name__,
        )
    else:
        log.error("inline projection failed; the read model lags until the next catch-up", exc_info=error)
