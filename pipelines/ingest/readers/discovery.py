"""What of the landing folder is read: the data files of a source folder, in the order they
are read; and what is not, for the warnings (links out of the landing folder, sub-folders
that are no source)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pipelines.ingest.readers.table import FORMATS
from pipelines.ingest.sources import SOURCES

# Files an editor or a copy in progress leaves beside the data: never data.
_NOT_DATA_PREFIXES = (".", "~$")
_NOT_DATA_SUFFIXES = (".part", ".tmp")


def discover(source_dir: Path, raw_dir: Path | None = None) -> list[Path]:
    """Data files under a source folder, in lexical order of their relative path. Nothing
    that links outside the landing folder `raw_dir` (default: the source folder's parent)."""
    files, _outside = _walk(source_dir, raw_dir or source_dir.parent)
    return sorted(files, key=lambda p: p.relative_to(source_dir).as_posix())


def outside_links(raw_dir: Path) -> list[Path]:
    """Files and folders under the landing folder that link outside it: skipped."""
    return sorted(_walk(raw_dir, raw_dir)[1])


def unknown_source_folders(raw_dir: Path, sources: Iterable[str] = SOURCES) -> list[str]:
    """Sub-folders of the landing folder that are no source (a misspelled source folder)."""
    if not raw_dir.is_dir():
        return []
    known = set(sources)
    return sorted(
        p.name
        for p in raw_dir.iterdir()
        if p.is_dir() and p.name not in known and not p.name.startswith(".")
    )


def _is_data(name: str) -> bool:
    lower = name.lower()
    return (
        not name.startswith(_NOT_DATA_PREFIXES)
        and not lower.endswith(_NOT_DATA_SUFFIXES)
        and Path(lower).suffix in FORMATS
    )


def _walk(top: Path, raw_dir: Path) -> tuple[list[Path], list[Path]]:
    """Data files under `top`, and the paths skipped as links outside `raw_dir`. A link inside
    the landing folder is followed, each folder once, after every folder reached without one:
    a file keeps the path it has without links, whatever order the folders are listed in."""
    root = raw_dir.resolve()
    files: list[Path] = []
    outside: list[Path] = []
    if top.is_symlink() and not top.resolve().is_relative_to(root):
        return files, [top]
    seen: set[Path] = set()
    pending, linked = ([top] if top.is_dir() else []), []
    while pending:
        folder = pending.pop()
        real = folder.resolve()
        if real not in seen:
            seen.add(real)
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
            for entry in entries:
                path = Path(entry.path)
                if entry.is_symlink() and not path.resolve().is_relative_to(root):
                    outside.append(path)
                elif entry.is_dir():
                    (linked if entry.is_symlink() else pending).append(path)
                elif entry.is_file() and _is_data(entry.name):
                    files.append(path)
        if not pending:
            pending, linked = linked[::-1], []
    return files, outside
