"""The terminal's progress lines: the code logs to `logging.getLogger(__name__)`, the command line
prints those records as plain lines on standard output.

While the graph runs in-process (`outcomeloop run`, `reload`), Dagster's console log already shows
what the assets log, so the plain lines stand back for that time and nothing shows twice.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from pipelines.ingestion import loader
from pipelines.progress import progress

PROGRESS_LOGGER = progress.name

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
def run_output(log_file: Path | None) -> Iterator[None]:
    """While an in-process run is under way: with `log_file`, everything the run writes
    (Dagster's debug log, warnings, our own lines) goes to that file and the terminal shows only
    the steps' one-line progress (`pipelines.progress`); without one, Dagster's console log is
    the terminal's and our own lines stand back (`--verbose`)."""
    if log_file is None:
        with dagster_log_only():
            yield
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stdout
    steps = logging.getLogger(PROGRESS_LOGGER)
    handler = _StreamHandler(terminal)
    with (
        open(log_file, "a", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        steps.addHandler(handler)
        big_files = loader.progress_bar
        loader.progress_bar = terminal.isatty()
        try:
            yield
        finally:
            loader.progress_bar = big_files
            steps.removeHandler(handler)


class _StreamHandler(logging.Handler):
    """Prints each record's message as one line on a stream fixed when it was made."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            raise
        except Exception:
            self.handleError(record)


@contextmanager
def dagster_log_only() -> Iterator[None]:
    """While inside, the terminal handler prints nothing: an in-process Dagster run is under way
    and its console log carries the lines."""
    _dagster_speaks.set()
    try:
        yield
    finally:
        _dagster_speaks.clear()
