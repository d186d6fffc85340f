"""The log lines of Connect's processes: one format, and CONNECT_LOG_LEVEL for Connect's own
loggers (requests with their timing, leases, rebuilds, failures)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str) -> None:
    logging.basicConfig(format=FORMAT)
    logging.getLogger("connect").setLevel(level.upper())
