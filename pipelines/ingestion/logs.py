"""Where the ingestion's progress lines go.

Every module of the ingestion logs to a standard `logging` logger under `pipelines.ingestion`
("nps.csv: 1200 loaded, 3 filtered, 2 quarantined of 1205 records in 0.4s"). Whoever runs it
decides where the lines go: the CLI configures handlers for the `pipelines` loggers, and the
Dagster asset forwards them into its run's log with `forward_logs(context.log)`, which works on
any Dagster instance without configuring it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

LOGGER = "pipelines.ingestion"

_lock = threading.Lock()
_active = 0
_saved_level = logging.NOTSET


class _Forward(logging.Handler):
    """Passes the records one thread logs on to another logger (a Dagster run's `context.log`)."""

    def __init__(self, target: logging.Logger, thread: int | None) -> None:
        super().__init__()
        self.target = target
        self.thread = thread

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread not in (None, self.thread):
            return
        try:
            self.target.log(record.levelno, record.getMessage())
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def forward_logs(target: logging.Logger, level: int = logging.INFO) -> Iterator[None]:
    """While inside, the ingestion's lines at `level` or above (logged by this thread) also go
    to `target`.

    The `pipelines.ingestion` logger is lowered to `level` meanwhile if it is set higher (a
    process that configured no logging leaves it at the root's WARNING), and restored once the
    last forwarding in the process ends.
    """
    global _active, _saved_level
    source = logging.getLogger(LOGGER)
    handler = _Forward(target, threading.get_ident())
    handler.setLevel(level)
    with _lock:
        if _active == 0:
            _saved_level = source.level
        if source.getEffectiveLevel() > level:
            source.setLevel(level)
        _active += 1
        source.addHandler(handler)
    try:
        yield
    finally:
        with _lock:
            source.removeHandler(handler)
            _active -= 1
            if _active == 0:
                source.setLevel(_saved_level)
