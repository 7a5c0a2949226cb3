"""What every reader returns: the file's header as it has it, the rows as text, `_row` the
spreadsheet row number (header = 1), and the rows that could not be read as the header has
them (`malformed`). Typing happens later, in one place, for every format."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}
MALFORMED_SCHEMA = {"row_number": pl.Int64, "detail": pl.String}


class UnreadableFile(Exception):
    """The file cannot be read at all; the message says why without quoting its content."""


def no_malformed_rows() -> pl.DataFrame:
    return pl.DataFrame(schema=MALFORMED_SCHEMA)


@dataclass(frozen=True)
class RawTable:
    frame: pl.DataFrame  # columns named as in the file (text; Parquet dates, decimals), `_row`
    file_format: str
    encoding: str | None
    # Rows whose cells do not line up with the header (row_number, detail): never in `frame`.
    malformed: pl.DataFrame = field(default_factory=no_malformed_rows)


def with_row_numbers(frame: pl.DataFrame, first: int = 2) -> pl.DataFrame:
    """`_row` added, numbering from `first` (a header named `_row` is renamed as polars renames
    a repeated one)."""
    if "_row" in frame.columns:
        frame = frame.rename({"_row": "_row_duplicated_0"})
    return frame.with_row_index("_row", offset=first).with_columns(pl.col("_row").cast(pl.Int64))


def without_empty_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Without the rows of empty cells: such a row is no row (contract section 7). A cell is
    empty when null, or an empty text (a quoted empty CSV cell)."""
    empty = {
        n: pl.col(n).is_null() | (pl.col(n) == "") if t == pl.String else pl.col(n).is_null()
        for n, t in frame.schema.items()
        if n != "_row"
    }
    # Most files have a column that is never empty: then no row is, and one column tells.
    for name in sorted(empty, key=lambda n: frame.get_column(n).null_count()):
        if frame.get_column(name).null_count():
            break
        if not frame.select(empty[name].any()).item():
            return frame
    if not empty:
        return frame
    return frame.filter(~pl.all_horizontal(empty.values()))
