"""What in a source's inbox folder is a landed file, and what is refused without being read.

Files that land are never modified, moved or deleted; this module only lists them. A file still
being written (a partial download, an editor's lock file) is not data yet and is skipped silently;
an entry that could make the pipeline read outside the inbox is refused and reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Names that are never loadable: editors' lock files, partial downloads and hidden files.
_SKIP_PREFIXES = (".", "~$")
_SKIP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")


@dataclass
class InboxScan:
    """A source folder's files: those to load, and those refused with the reason why."""

    files: list[Path]
    refused: list[tuple[Path, str]]


def scan_inbox(inbox_dir: Path) -> InboxScan:
    """The loadable files of one source folder, oldest first (by mtime, then name).

    Hidden files, lock files (`.~lock*`, `~$*`) and partial downloads (`*.part`, `*.tmp`) are
    skipped silently: they are not data yet. Symlinks pointing outside the inbox and names with
    `..` are refused (reported, never read). Sub-folders are not descended into.
    """
    inbox_dir = Path(inbox_dir)
    if not inbox_dir.is_dir():
        return InboxScan([], [])
    root = inbox_dir.resolve()
    files: list[tuple[float, str, Path]] = []
    refused: list[tuple[Path, str]] = []
    for entry in os.scandir(inbox_dir):
        name = entry.name
        if name.startswith(_SKIP_PREFIXES) or name.lower().endswith(_SKIP_SUFFIXES):
            continue
        path = Path(entry.path)
        if ".." in name:
            refused.append((path, f"{path}: refused: file names containing '..' are not loaded"))
            continue
        if entry.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root):
                refused.append(
                    (path, f"{path}: refused: a symlink to {target}, outside the inbox {root}")
                )
                continue
        if not entry.is_file():
            continue
        files.append((entry.stat().st_mtime, name, path))
    files.sort(key=lambda f: (f[0], f[1]))
    return InboxScan([p for _, _, p in files], sorted(refused))


def landed_files(inbox_dir: Path) -> list[Path]:
    """The loadable files of one source folder, sorted by (mtime, name); see `scan_inbox`."""
    return scan_inbox(inbox_dir).files
