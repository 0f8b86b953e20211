"""The terminal's progress lines: the code logs to `logging.getLogger(__name__)`, the command line
prints those records as plain lines on standard output.

While the graph runs in-process (`outcomeloop run`, `reload`), Dagster's console log already shows
what the assets log, so the plain lines stand back for that time and nothing shows twice.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The logger trees whose INFO-and-above records the terminal shows.
TERMINAL_LOGGERS = ("outcomeloop", "pipelines", "metrics")

_dagster_speaks = threading.Event()


class TerminalHandler(logging.Handler):
    """Prints each record's message as one line on the current standard output.

    `sys.stdout` is looked up per line, not kept, so output redirected after start-up (pytest's
    capture, `contextlib.redirect_stdout`) still receives it; each line is flushed at once since
    these are progress lines a person waits on.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if _dagster_speaks.is_set():
            return
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # `outcomeloop ... | head`: main() ends quietly
            raise
        except Exception:
            self.handleError(record)


@contextmanager
def terminal_logging() -> Iterator[None]:
    """While inside, the code's INFO-and-above log lines print on the terminal; the loggers are
    left as they were afterwards (a test calling `main()` leaves nothing behind)."""
    handler = TerminalHandler()
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in TERMINAL_LOGGERS]
    for logger, level in saved:
        logger.addHandler(handler)
        if level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)


@contextmanager
def dagster_log_only() -> Iterator[None]:
    """While inside, the terminal handler prints nothing: an in-process Dagster run is under way
    and its console log carries the lines."""
    _dagster_speaks.set()
    try:
        yield
    finally:
        _dagster_speaks.clear()
