"""The oracle of the XLSX reader's tests: openpyxl itself with the rule the reader before
applied to each cell (`_text`), and helpers to build workbooks no writer here writes.
"""

from __future__ import annotations

import zipfile
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import polars as pl

from pipelines.ingest import readers


def _text(value: object) -> str | None:
    """The reader before, per cell: openpyxl's value through `str()`, dates in ISO."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def openpyxl_table(path: Path) -> tuple[list[str], list[tuple]]:
    """Columns and rows as the reader gives them: row 1 the header, up to its last cell with
    text (one before it without text `column_<n>`; a repeated name keeps its place and takes
    its last column), `_row` the sheet row; rows without a value left out, and rows with a
    value beyond the header's last column (malformed: quarantined, not read)."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    if not rows:
        return ["_row"], []
    last = max((i for i, h in enumerate(rows[0]) if _text(h)), default=-1)
    names = [_text(h) or f"column_{i + 1}" for i, h in enumerate(rows[0][: last + 1])]
    column = {name: i for i, name in enumerate(names)}
    table = []
    for number, row in enumerate(rows[1:], start=2):
        if any(_text(v) is not None for v in row[last + 1 :]):
            continue
        cells = [_text(row[i]) if i < len(row) else None for i in column.values()]
        if any(cell is not None for cell in cells):
            table.append((number, *cells))
    return ["_row", *column], table


def assert_read_as_openpyxl(path: Path) -> pl.DataFrame:
    frame = readers.read_raw(path, path.read_bytes()).frame
    columns, rows = openpyxl_table(path)
    assert frame.columns == columns
    got = frame.rows()
    assert len(got) == len(rows)
    for new, old in zip(got, rows, strict=True):  # cell by cell, to name the one that differs
        for name, a, b in zip(columns, new, old, strict=True):
            assert a == b, f"{path.name} row {old[0]} column {name}: {a!r} != {b!r}"
    return frame


def patch_sheet(path: Path, replacements: dict[str, str]) -> Path:
    """A copy of the workbook with its first sheet's XML edited (cells no writer here writes)."""
    out = path.with_name(f"patched_{path.name}")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                for old, new in replacements.items():
                    assert old.encode() in data, old
                    data = data.replace(old.encode(), new.encode())
            target.writestr(item, data)
    return out


def column_values(frame: pl.DataFrame, name: str) -> list[str | None]:
    return frame.get_column(name).to_list()
