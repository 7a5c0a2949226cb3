"""Parquet files: dates and decimals kept typed, every other column as text."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.ingest.readers.table import RawTable, UnreadableFile, with_row_numbers


def read_parquet(path: Path) -> RawTable:
    try:
        frame = pl.read_parquet(path)
        # Dates and decimals stay typed (parse.py takes them as they are), the rest is text.
        frame = frame.with_columns(pl.exclude(pl.Date, pl.Float64).cast(pl.String))
    except Exception as exc:  # the message of a broken file may quote its bytes: its type only
        raise UnreadableFile(f"not a readable Parquet file ({type(exc).__name__})") from exc
    return RawTable(with_row_numbers(frame), "parquet", None)
