"""Parquet files: dates and decimals kept typed, every other column as text."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.ingest.readers.table import RawTable, UnreadableFile, with_row_numbers


def read_parquet(path: Path) -> RawTable:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise UnreadableFile(f"not a readable Parquet file ({str(exc).splitlines()[0]})") from exc
    # Dates and decimals stay typed (parse.py takes them as they are), the rest is text.
    frame = frame.with_columns(pl.exclude(pl.Date, pl.Float64).cast(pl.String))
    return RawTable(with_row_numbers(frame), "parquet", None)
