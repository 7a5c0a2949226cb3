"""What every reader returns: the file's header as it has it, the rows as text, `_row` the
spreadsheet row number (header = 1). Typing happens later, in one place, for every format."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}


class UnreadableFile(Exception):
    """The file cannot be read at all; the message says why."""


@dataclass(frozen=True)
class RawTable:
    frame: pl.DataFrame  # columns named as in the file (text; Parquet dates, decimals), `_row`
    file_format: str
    encoding: str | None


def with_row_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))
