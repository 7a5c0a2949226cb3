"""Reading raw files into all-text frames: CSV (encoding detected), XLSX (first worksheet),
Parquet. Every reader returns the header as the file has it and the rows as text, with `_row`
the spreadsheet row number (header = 1); typing happens later, in one place, for every format.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.ingest.readers.discovery import discover
from pipelines.ingest.readers.parquet import read_parquet
from pipelines.ingest.readers.table import FORMATS, RawTable, UnreadableFile
from pipelines.ingest.readers.text import decode_text, read_csv
from pipelines.ingest.readers.xlsx import read_xlsx

__all__ = ["FORMATS", "RawTable", "UnreadableFile", "decode_text", "discover", "read_raw"]


def read_raw(path: Path, data: bytes) -> RawTable:
    """The file at `path` (its bytes `data`, for the formats read from memory)."""
    kind = FORMATS[path.suffix.lower()]
    if kind == "csv":
        return read_csv(data)
    if kind == "xlsx":
        return read_xlsx(path)
    return read_parquet(path)
