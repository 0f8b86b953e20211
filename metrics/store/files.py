"""Files written whole or not at all, and content digests.

Every file OutcomeLoop writes for another process to read (the published snapshot, the Dagster
instance's dagster.yaml, demo exports, the lake's fingerprints) goes through `atomic_replace`:
written under a temporary name, flushed to disk, renamed over the target, and the folder flushed
too, so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


def fsync_dir(folder: Path | str) -> None:
    """Flush a folder's entries (a rename is durable only once its folder is)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform that cannot open folders (Windows): nothing to flush
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_sibling(target: Path | str, suffix: str = ".part") -> Path:
    """A unique name beside `target`, hidden from the inbox scan (leading dot, `.part` suffix)."""
    target = Path(target)
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}{suffix}")


def replace_into(temporary: Path | str, target: Path | str) -> None:
    """Move a finished `temporary` file over `target` durably (fsync file, rename, fsync folder)."""
    with open(temporary, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(temporary, target)
    fsync_dir(Path(target).parent)


@contextlib.contextmanager
def atomic_path(target: Path | str, suffix: str = ".part") -> Iterator[Path]:
    """`with atomic_path(target) as tmp:` write `tmp` (by any means); on success it replaces
    `target` durably, on error it is removed and `target` is untouched."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(target, suffix)
    try:
        yield tmp
        replace_into(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write(target: Path | str, data: bytes | str) -> None:
    """Write `data` to `target` whole or not at all."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def file_sha256(path: Path | str) -> str:
    """The hex SHA-256 of a file's bytes (what decides whether a landed file is new)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
