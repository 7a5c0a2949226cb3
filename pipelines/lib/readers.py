"""Reading raw files into all-text frames: CSV (encoding detected), XLSX (first sheet), Parquet.

Every reader returns the header as the file has it and the rows as text, with `_row` the
spreadsheet row number (header = 1). Typing happens later, in one place, for every format.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}


class UnreadableFile(Exception):
    """The file cannot be read at all; the message says why."""


@dataclass(frozen=True)
class RawTable:
    frame: pl.DataFrame  # text columns named as in the file, plus `_row`
    file_format: str
    encoding: str | None


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


def decode_text(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (with or without BOM), else GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not UTF-8 and not GB18030/GBK text (undecodable byte at offset {exc.start})"
        ) from exc


def _with_row_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))


def _read_csv(data: bytes) -> RawTable:
    text, encoding = decode_text(data)
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            infer_schema=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise UnreadableFile(f"malformed CSV: {str(exc).splitlines()[0]}") from exc
    return RawTable(_with_row_numbers(frame), "csv", encoding)


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    # A number cell stays as Python prints it: an ID number Excel made a float reads as
    # `3.30206199001011e+17` and fails validation, as the contract requires.
    return str(value)


def _read_xlsx(path: Path) -> RawTable:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken zip/xml
        raise UnreadableFile(f"not a readable XLSX workbook ({type(exc).__name__})") from exc
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return RawTable(_with_row_numbers(pl.DataFrame()), "xlsx", None)
        names = [_cell_text(h) or f"column_{i + 1}" for i, h in enumerate(header)]
        body = [[_cell_text(v) for v in row] for row in rows]
    finally:
        book.close()
    width = len(names)
    columns = {
        name: [row[i] if i < len(row) else None for row in body] for i, name in enumerate(names)
    }
    frame = _with_row_numbers(pl.DataFrame(columns, schema={n: pl.String for n in columns}))
    # Rows with no value at all are Excel formatting, not data.
    frame = frame.filter(~pl.all_horizontal(pl.exclude("_row").is_null())) if width else frame
    return RawTable(frame, "xlsx", None)


def _read_parquet(path: Path) -> RawTable:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise UnreadableFile(f"not a readable Parquet file ({str(exc).splitlines()[0]})") from exc
    frame = frame.with_columns(pl.all().cast(pl.String))
    return RawTable(_with_row_numbers(frame), "parquet", None)


def read_raw(path: Path, data: bytes) -> RawTable:
    kind = FORMATS[path.suffix.lower()]
    if kind == "csv":
        return _read_csv(data)
    if kind == "xlsx":
        return _read_xlsx(path)
    return _read_parquet(path)
