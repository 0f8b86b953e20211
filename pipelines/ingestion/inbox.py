"""What in a source's inbox folder is a landed file, and what is refused without being read.

Files that land are never modified, moved or deleted; this module only lists them. A file still
being written (a partial download, an editor's lock file) is not data yet and is skipped silently;
an entry that could make the pipeline read outside the inbox is refused and reported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from metrics.problems import did_you_mean

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
        if _not_data_yet(name):
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


#: Why an entry of inbox/ is not read (never silently ignored; docs/sources.md).
UNKNOWN_FOLDER = "not read: unknown source folder"
NOT_IN_FOLDER = "not read: not in a source folder"
SUB_FOLDER = "not read: a folder inside a source folder (sub-folders are not read)"


@dataclass(frozen=True)
class Unread:
    """An entry of inbox/ that no source reads, and why (with a hint when one helps)."""

    path: Path
    reason: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" + (f" ({self.hint})" if self.hint else "")


def unread_entries(inbox: Path, sources: Sequence[str]) -> list[Unread]:
    """Folders and files in `inbox` that belong to no source: unknown folders (`inbox/NPS/`,
    `inbox/surveys/`), files directly in `inbox/`, and folders inside a source's folder.

    Hidden files, lock files and partial downloads are left out, as the scan of a source folder
    leaves them out."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        return []
    found: list[Unread] = []
    for entry in sorted(os.scandir(inbox), key=lambda e: e.name):
        if _not_data_yet(entry.name):
            continue
        path = Path(entry.path)
        if entry.is_dir():
            if entry.name in sources:
                found += [
                    Unread(Path(sub.path), SUB_FOLDER)
                    for sub in sorted(os.scandir(path), key=lambda e: e.name)
                    if sub.is_dir() and not _not_data_yet(sub.name)
                ]
                continue
            close = [s for s in sources if s.casefold() == entry.name.casefold()]
            hint = (
                f"rename it to {close[0]!r}"
                if close
                else did_you_mean(entry.name, sources) or f"the sources are {', '.join(sources)}"
            )
            found.append(Unread(path, UNKNOWN_FOLDER, hint))
        else:
            found.append(Unread(path, NOT_IN_FOLDER, "move it into inbox/<source>/"))
    return found


def _not_data_yet(name: str) -> bool:
    return name.startswith(_SKIP_PREFIXES) or name.lower().endswith(_SKIP_SUFFIXES)


def landed_files(inbox_dir: Path) -> list[Path]:
    """The loadable files of one source folder, sorted by (mtime, name); see `scan_inbox`."""
    return scan_inbox(inbox_dir).files
