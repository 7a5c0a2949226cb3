"""The records of a CSV file, each accounted for (contract section 7): a row of empty cells is
no row; a row whose cell count differs from the header's, empty cells past the header's last
named column not counted, is malformed and never read with its values shifted.

Python's csv module defines records and cells (RFC 4180 quoting; a quote inside an unquoted
cell is a character). polars reads a file the same way, and far faster, when every quote opens
or closes a quoted cell (or doubles one inside it): such a file is read by polars and its
records counted from the positions of its separators, newlines and quotes; any other file by
the csv module.
"""

from __future__ import annotations

import csv
import io
import itertools
import re

import numpy as np
import polars as pl

from pipelines.ingest.readers.table import (
    MALFORMED_SCHEMA,
    UnreadableFile,
    no_malformed_rows,
    with_row_numbers,
    without_empty_rows,
)

SEPARATOR, QUOTE, NEWLINE, RETURN = ord(","), ord('"'), ord("\n"), ord("\r")
_LONE_RETURN = re.compile(rb"\r(?!\n)")
# Bytes looked at in one step when counting separators: bounds the positions held at once.
_CHUNK = 1 << 24
# Quotes, and quoted cells holding text, up to which each is looked at on its own.
_FEW_QUOTED = 4096
# Rows the csv module turns into a frame at a time.
_CSV_BATCH = 100_000


def one_line_ending(data: bytes) -> bytes:
    """A file with a CR alone ending a line has all its line endings LF: CR, CRLF and LF each
    end a record. CRLF alone polars reads as it is (rewriting costs as much as the read)."""
    if b"\r" in data and _LONE_RETURN.search(data):
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def read_records(data: bytes) -> tuple[pl.DataFrame, pl.DataFrame]:
    """UTF-8 `data`, its lines ending in LF or CRLF (`one_line_ending`) -> (frame, malformed):
    the header's columns up to its last named one, as text, plus `_row` (the record's number
    in the file: the header's is 1 unless blank lines precede it), and the malformed rows."""
    body = data.lstrip(b"\r\n")  # polars skips blank lines before the header; so does this
    first = 1 + data[: len(data) - len(body)].count(b"\n")  # the header's number
    if body.endswith((b"\n\n", b"\n\r\n")):  # blank lines at the end: no rows, and none after
        body = body.rstrip(b"\r\n") + b"\n"
    if not body:
        return with_row_numbers(pl.DataFrame(), first + 1), no_malformed_rows()
    arr = np.frombuffer(body, np.uint8)
    quotes = _regular_quotes(arr, _quote_positions(body, arr))
    if quotes is None:
        return _by_csv_module(body, first)
    try:
        frame = pl.read_csv(io.BytesIO(body), infer_schema=False)  # raises on a longer row
    except pl.exceptions.PolarsError:
        frame = None
    if frame is not None and _every_row_full(body, frame, quotes):
        width = _header_width(body, quotes)
        unnamed = frame.columns[width:]  # past the header's last named column
        if width == frame.width or not _any_value(frame, unnamed):
            frame = with_row_numbers(frame.drop(unnamed), first + 1)
            return without_empty_rows(frame), no_malformed_rows()
    return _by_positions(body, arr, quotes, first)


def _header_width(body: bytes, quotes: np.ndarray) -> int:
    """The header's cells up to its last named one."""
    end = body.find(b"\n")
    while end >= 0 and np.searchsorted(quotes, end) % 2:  # a newline in a quoted header cell
        end = body.find(b"\n", end + 1)
    line = body[: end if end >= 0 else len(body)].decode("utf-8").removesuffix("\r")
    cells = next(csv.reader([line]), [])
    return len(cells) - len(list(itertools.takewhile(lambda c: not c, reversed(cells))))


def _any_value(frame: pl.DataFrame, columns: list[str]) -> bool:
    cells = [pl.col(c).is_not_null() & (pl.col(c) != "") for c in columns]
    return bool(frame.select(pl.any_horizontal(cells).any()).item())


def _quote_positions(body: bytes, arr: np.ndarray) -> np.ndarray:
    """Where the quotes are: found one by one while few (most files quote a cell or none)."""
    found: list[int] = []
    at = body.find(b'"')
    while at >= 0:
        if len(found) == _FEW_QUOTED:
            return np.flatnonzero(arr == QUOTE)
        found.append(at)
        at = body.find(b'"', at + 1)
    return np.array(found, np.int64)


def _regular_quotes(arr: np.ndarray, quotes: np.ndarray) -> np.ndarray | None:
    """`quotes` when each opens a quoted cell (at a cell's start), closes it (at its end) or
    is doubled inside it; else None."""
    if quotes.size == 0:
        return quotes
    if quotes.size % 2:
        return None
    opens, closes = quotes[0::2], quotes[1::2]
    before = arr[np.maximum(opens - 1, 0)]
    after = arr[np.minimum(closes + 1, arr.size - 1)]
    # A doubled quote closes and reopens at once: a close followed by the next open.
    reopened = np.zeros(opens.size, bool)
    reopened[1:] = closes[:-1] + 1 == opens[1:]
    reclosed = np.zeros(closes.size, bool)
    reclosed[:-1] = reopened[1:]
    opens_ok = (opens == 0) | (before == SEPARATOR) | (before == NEWLINE) | reopened
    ends_line = (after == NEWLINE) | (after == RETURN)  # a CR here is a CRLF's
    closes_ok = (closes == arr.size - 1) | (after == SEPARATOR) | ends_line | reclosed
    return quotes if bool(opens_ok.all() and closes_ok.all()) else None


def _every_row_full(body: bytes, frame: pl.DataFrame, quotes: np.ndarray) -> bool:
    """Whether every row of polars' read has the header's cell count. polars refused longer
    rows; a shorter row leaves the last column null, so without one every row is full; else
    the separators must number (cells - 1) per row."""
    if frame.height == 0 or frame.get_column(frame.columns[-1]).null_count() == 0:
        return True
    header_end = body.find(b"\n")
    if header_end < 0 or (quotes.size and quotes[0] < header_end):
        return False
    separators = body.count(b",", header_end)
    opens, closes = quotes[0::2], quotes[1::2]
    holding = np.flatnonzero(closes - opens > 1)
    if holding.size > _FEW_QUOTED:
        return False
    for i in holding:
        separators -= body.count(b",", int(opens[i]), int(closes[i]))
    return separators == (frame.width - 1) * frame.height


def _by_positions(
    body: bytes, arr: np.ndarray, quotes: np.ndarray, first: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each record's cells counted from the positions of separators and newlines outside
    quoted cells; polars reads the cells (longer rows cut, shorter ones padded)."""
    try:
        frame = pl.read_csv(io.BytesIO(body), infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.PolarsError:
        return _by_csv_module(body, first)
    cells, trailing = _shape(arr, quotes)
    if cells.size != frame.height + 1 or cells[0] != frame.width:  # polars split otherwise
        return _by_csv_module(body, first)
    width = int(cells[0] - trailing[0])  # up to the header's last named column
    cells, trailing = cells[1:], trailing[1:]
    columns, unnamed = frame.columns, frame.columns[width:]
    frame = with_row_numbers(frame, first + 1).with_columns(
        _cells=pl.Series(cells - np.minimum(trailing, np.maximum(cells - width, 0))),
        _good=pl.Series((cells >= width) & (trailing >= cells - width)),
        _cut_empty=pl.Series(trailing >= cells - frame.width),  # the cells polars cut: empty
    )
    empty = pl.all_horizontal(pl.col(columns).is_null() | (pl.col(columns) == ""))
    frame = frame.filter(~(empty & pl.col("_cut_empty")))
    malformed = frame.filter(~pl.col("_good")).select(
        row_number=pl.col("_row"),
        detail=pl.format("{} cells where the header has {}", pl.col("_cells"), pl.lit(width)),
    )
    return frame.filter(pl.col("_good")).drop("_cells", "_good", "_cut_empty", *unnamed), malformed


def _shape(arr: np.ndarray, quotes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per record (the header first): its cells, and its empty cells at the end (the
    separators that end it)."""
    newlines = np.flatnonzero(arr == NEWLINE)
    if quotes.size:  # a newline inside a quoted cell ends nothing
        newlines = newlines[np.searchsorted(quotes, newlines) % 2 == 0]
    ends = newlines if arr[-1] == NEWLINE else np.append(newlines, arr.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    separators = np.zeros(ends.size, np.int64)
    for offset in range(0, arr.size, _CHUNK):
        found = np.flatnonzero(arr[offset : offset + _CHUNK] == SEPARATOR) + offset
        if quotes.size:
            found = found[np.searchsorted(quotes, found) % 2 == 0]
        if found.size:
            record = np.searchsorted(ends, found)
            low = record[0]
            separators[low : record[-1] + 1] += np.bincount(record - low)
    filled = ends > starts
    ends = ends - (filled & (arr[np.maximum(ends - 1, 0)] == RETURN))  # before a CRLF's CR
    trailing = np.zeros(ends.size, np.int64)
    running = np.flatnonzero(ends > starts)
    step = 1
    while running.size:  # one step per separator of the longest run ending a record
        at = ends[running] - step
        running = running[(at >= starts[running]) & (arr[np.maximum(at, 0)] == SEPARATOR)]
        trailing[running] += 1
        step += 1
    return separators + 1, trailing


def _by_csv_module(body: bytes, first: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The file read row by row by the csv module: for quotes polars reads otherwise."""
    rows = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    try:
        header = next(rows)
        width = len(header) - len(list(itertools.takewhile(lambda c: not c, reversed(header))))
        names = [n if n != "_row" else "_row_duplicated_0" for n in _column_names(header)]
        names = names[:width]
        parts, bad = [], []
        numbered = enumerate(rows, start=first + 1)
        while batch := list(itertools.islice(numbered, _CSV_BATCH)):
            kept = []
            for number, row in batch:
                if not any(row):
                    continue  # a row of empty cells is no row
                if len(row) < width or any(row[width:]):
                    bad.append((number, f"{_cells(row, width)} cells where the header has {width}"))
                    continue
                kept.append([number, *(c or None for c in row[: len(names)])])
            parts.append(_frame(kept, names))
    except csv.Error as exc:
        raise UnreadableFile(f"not readable as CSV ({type(exc).__name__})") from exc
    frame = pl.concat(parts) if parts else _frame([], names)
    return frame, pl.DataFrame(bad, schema=MALFORMED_SCHEMA, orient="row")


def _cells(row: list[str], width: int) -> int:
    """The row's cells, its empty cells past the header's width not counted."""
    count = len(row)
    while count > width and not row[count - 1]:
        count -= 1
    return count


def _frame(rows: list[list], names: list[str]) -> pl.DataFrame:
    schema = {"_row": pl.Int64, **dict.fromkeys(names, pl.String)}
    padded = [row + [None] * (len(schema) - len(row)) for row in rows]
    return pl.DataFrame(padded, schema=schema, orient="row")


def _column_names(header: list[str]) -> list[str]:
    """The header's cells as polars names them: a repeated one `<name>_duplicated_<k>`."""
    names: list[str] = []
    repeats: dict[str, int] = {}
    for cell in header:
        name = cell
        while name in names:
            name = f"{cell}_duplicated_{repeats.get(cell, 0)}"
            repeats[cell] = repeats.get(cell, 0) + 1
        names.append(name)
    return names
