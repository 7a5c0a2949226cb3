"""Reading raw files into all-text frames: CSV (encoding detected), XLSX (first worksheet),
Parquet. Every reader returns the header as the file has it and the rows as text, with `_row`
the spreadsheet row number (header = 1), and the rows that do not line up with the header;
typing happens later, in one place, for every format.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.ingest.readers.discovery import discover, outside_links, unknown_source_folders
from pipelines.ingest.readers.parquet import read_parquet
from pipelines.ingest.readers.table import FORMATS, RawTable, UnreadableFile
from pipelines.ingest.readers.text import decode_text, lines_after_header, read_csv
from pipelines.ingest.readers.xlsx import read_xlsx

__all__ = [
    "FORMATS",
    "RawTable",
    "UnreadableFile",
    "decode_text",
    "discover",
    "outside_links",
    "read_raw",
    "unknown_source_folders",
    "unread_rows",
]


def read_raw(path: Path, data: bytes) -> RawTable:
    """The file at `path` (its bytes `data`, for the formats read from memory). A file no
    reader can read raises UnreadableFile, whatever the reader raised."""
    kind = FORMATS[path.suffix.lower()]
    read = {"csv": lambda: read_csv(data), "xlsx": lambda: read_xlsx(path)}
    try:
        return read.get(kind, lambda: read_parquet(path))()
    except (UnreadableFile, MemoryError):
        raise
    except Exception as exc:  # a hostile file must not stop the run; its message may quote it
        raise UnreadableFile(f"not readable as {kind} ({type(exc).__name__})") from exc


def unread_rows(path: Path, data: bytes) -> pl.Series:
    """The row numbers that count as read (and quarantined) of a file that cannot be read at
    all: a text file's non-blank lines after its first; a workbook or Parquet file that cannot
    be opened has no lines to count."""
    if FORMATS[path.suffix.lower()] == "csv":
        return lines_after_header(data)
    return pl.Series("row_number", [], pl.Int64)
