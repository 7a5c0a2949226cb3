"""Which files of a source folder are data files, in the order they are read."""

from __future__ import annotations

from pathlib import Path

from pipelines.ingest.readers.table import FORMATS


def discover(source_dir: Path) -> list[Path]:
    """Data files under a source folder, in lexical order of their relative path."""
    if not source_dir.is_dir():
        return []
    files = [
        p
        for p in source_dir.rglob("*")
        if p.is_file() and p.suffix.lower() in FORMATS and not p.name.startswith((".", "~$"))
    ]
    return sorted(files, key=lambda p: p.relative_to(source_dir).as_posix())
