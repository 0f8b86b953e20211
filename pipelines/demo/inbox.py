"""Landing files in the inbox the way a careful upload would: complete or not at all, never twice.

The inbox sensor may look at any moment, so every file is written under a hidden `.part` name
beside its target and renamed into place only once complete (the sensor skips hidden and `.part`
files). A landed file is never rewritten: the pipeline loads each file once, keyed by its content,
so new bytes under an old name would be a second, contradicting truth.
"""

from __future__ import annotations

import filecmp
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from metrics.store.files import atomic_path, replace_into, temporary_sibling
from pipelines.demo.formats.plain_csv import writer
from pipelines.demo.story import DemoError


@contextmanager
def landing(path: Path, *, bom: bool = False) -> Iterator[TextIO]:
    """Write `path` (UTF-8, with a BOM if asked) through a temporary file and move it into place
    when complete. If `path` exists already, the same bytes leave it as it is (its mtime too) and
    different bytes raise DemoError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = temporary_sibling(path)
    try:
        with open(part, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
            yield fh
        if not path.exists():
            replace_into(part, path)
        elif not filecmp.cmp(part, path, shallow=False):
            raise DemoError(
                f"{path} already exists with different content, and landed files are never "
                f"rewritten. Empty {path.parent.parent} (or point OUTCOMELOOP_HOME at a new "
                "folder) and run `outcomeloop demo` again."
            )
    finally:
        part.unlink(missing_ok=True)


def land_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[str]], *, bom: bool = False
) -> None:
    """Land a CSV file: the header row, then `rows`."""
    with landing(path, bom=bom) as fh:
        w = writer(fh)
        w.writerow(header)
        w.writerows(rows)


def land_copy(source: Path, copy: Path) -> None:
    """Land a byte-for-byte copy of `source` as `copy` (an export saved twice under two names)."""
    if not copy.exists():
        with atomic_path(copy) as part:
            shutil.copyfile(source, part)
    elif not filecmp.cmp(source, copy, shallow=False):
        raise DemoError(f"{copy} already exists with different content; empty the inbox")
