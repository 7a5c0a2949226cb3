"""XLSX files: the first worksheet, read by calamine (fastexcel), each cell the text the
openpyxl reader gave it (`xlsx_text`); openpyxl itself for the files calamine cannot read.
"""

from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree

import polars as pl
from openpyxl.reader.workbook import WorkbookParser
from openpyxl.utils.cell import get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from pipelines.ingest.readers.table import (
    RawTable,
    UnreadableFile,
    no_malformed_rows,
    with_row_numbers,
    without_empty_rows,
)
from pipelines.ingest.readers.xlsx_text import Block, iso_text, sheet_text

# fastexcel warns of every column without a value ("falling back to string"): that is text.
logging.getLogger("fastexcel.types.dtype").setLevel(logging.ERROR)


def read_xlsx(path: Path) -> RawTable:
    """The first worksheet, each cell the text openpyxl's value gave through `str()`
    (`_read_xlsx_openpyxl`, the reference); an empty cell null. Row 1 is the header (`_table`)."""
    import fastexcel

    try:
        layout = _layout(path)
        reader = fastexcel.read_excel(str(path))
        # a column of more than one type of cell, or one with a #NAME? error, types no column
        mixed = (fastexcel.UnsupportedColumnTypeCombinationError, fastexcel.CalamineCellError)
        blocks = _load_sheet(reader, layout.sheet, layout.text_header, mixed)
    except Exception:  # a broken file, or cells calamine refuses (`#SPILL!`): openpyxl decides
        return _read_xlsx_openpyxl(path)
    if blocks is None:  # not one cell with a value
        return RawTable(with_row_numbers(pl.DataFrame()), "xlsx", None)
    if iso_text(blocks):  # perhaps ISO date cells (t="d", not Excel's): openpyxl parsed them
        return _read_xlsx_openpyxl(path)
    return _table(sheet_text(blocks, layout.date1904))


def _table(texts: pl.DataFrame) -> RawTable:
    """The sheet as read: `texts` holds its rows (row 0 the header) in columns "0" (A),
    "1" (B)..., a column without any value possibly absent. Columns run from A to the header's
    last named one (a header without text is `column_<n>`; a repeated name keeps its place and
    its last column); a row with a value beyond it is malformed, a row without a value none."""
    header = texts.row(0, named=True) if texts.height else {}
    last = max((int(c) for c, text in header.items() if text), default=-1)
    columns: dict[str, pl.Expr] = {}
    for i in range(last + 1):
        text = header.get(str(i))
        column = pl.col(str(i)) if str(i) in header else pl.lit(None, pl.String)
        columns[text or f"column_{i + 1}"] = column
    beyond = [pl.col(c).is_not_null() & (pl.col(c) != "") for c in texts.columns if int(c) > last]
    body = with_row_numbers(texts.slice(1))
    malformed = no_malformed_rows()
    if beyond:
        outside = pl.any_horizontal(beyond)
        where = "where the header names no column"
        if last >= 0:
            where = f"beyond the header's last column ({get_column_letter(last + 1)})"
        malformed = body.filter(outside).select(
            row_number=pl.col("_row"), detail=pl.lit(f"a value {where}")
        )
        body = body.filter(~outside)
    frame = body.select("_row", *(e.alias(n) for n, e in columns.items()))
    return RawTable(without_empty_rows(frame), "xlsx", None, malformed)


@dataclass(frozen=True)
class _Layout:
    """What openpyxl took from the package besides cells, and calamine does not give."""

    sheet: str  # the first worksheet (calamine lists chartsheets as sheets too)
    text_header: bool  # its row 1 holds values, text only
    date1904: bool  # the workbook's date system


def _layout(path: Path) -> _Layout:
    """The workbook part read by openpyxl's own parser, as `load_workbook` reads it, without
    the shared strings and sheets that `load_workbook` parses whole."""
    with zipfile.ZipFile(path) as package:
        book = WorkbookParser(package, "xl/workbook.xml", keep_links=False)
        book.parse()
        date1904 = book.wb.epoch == CALENDAR_MAC_1904
        parts = set(package.namelist())
        for sheet, rel in book.find_sheets():
            if rel.target in parts and "chartsheet" not in rel.Type:
                return _Layout(sheet.name, _text_header(package, rel.target), date1904)
    raise KeyError("no worksheet in the workbook")


_TEXT_CELLS = ("s", "inlineStr", "str")  # shared, inline and formula strings
_HEAD_BYTES = 4096  # fed to the XML parser at a time: the first row is near the start


def _text_header(package: zipfile.ZipFile, part: str) -> bool:
    """Whether the sheet's first row is row 1 with a value, text only. Parsed from the start
    of the sheet's XML up to its first row, as no reader tells without parsing the sheet."""
    parser = ElementTree.XMLPullParser()
    with package.open(part) as xml:
        while chunk := xml.read(_HEAD_BYTES):
            parser.feed(chunk)
            for _event, element in parser.read_events():
                tag = _local(element.tag)
                if tag == "row":
                    return _text_row_1(element)
                if tag == "sheetData":  # no row at all
                    return False
    return False


def _text_row_1(row: ElementTree.Element) -> bool:
    """Whether `row` is row 1 with at least one value, every value text."""
    if row.get("r", "1") != "1":
        return False
    types = [c.get("t", "n") for c in row if _local(c.tag) == "c" and _has_value(c)]
    return bool(types) and all(t in _TEXT_CELLS for t in types)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _has_value(cell: ElementTree.Element) -> bool:
    """A value (`<v>`) or inline text (`<t>`) that is not empty."""
    return any(_local(e.tag) in ("v", "t") and e.text for e in cell.iter())


def _load_sheet(reader, name: str, text_header: bool, mixed: tuple[type[Exception], ...]):
    """The sheet's cells, typed: [header row, rows under it] when each column holds one type
    of cell, else [all rows as text, as booleans, as durations] (`xlsx_text`); None when
    no cell has a value. When row 1 holds text only, one read: calamine's column names are
    that text, unless it renamed a repeated one (`a`, `a_1`)."""
    typed = {"schema_sample_rows": None, "dtype_coercion": "strict"}
    try:
        if text_header:
            sheet = reader.load_sheet(name, header_row=0, **typed)
            columns = sheet.selected_columns
            names = [c.name for c in columns if c.column_name_from != "generated"]
            stems = (re.fullmatch(r"(.*)_\d+", n) for n in names)
            if not any(stem and stem.group(1) in names for stem in stems):
                header = {
                    str(c.absolute_index): [c.name if c.column_name_from != "generated" else None]
                    for c in columns
                }
                return [Block(pl.DataFrame(header), {}), _block(sheet)]
        first_row = {"header_row": None, "skip_rows": 0, "n_rows": 1, "schema_sample_rows": 1}
        header = _block(reader.load_sheet(name, dtype_coercion="strict", **first_row))
        if header.frame.width == 0:
            return None
        return [header, _block(reader.load_sheet(name, header_row=None, skip_rows=1, **typed))]
    except mixed:
        every = {"header_row": None, "skip_rows": 0, "schema_sample_rows": None}
        return [
            _block(reader.load_sheet(name, dtypes="string", **every)),
            _block(reader.load_sheet(name, dtypes="boolean", **every), errors=False),
            _block(reader.load_sheet(name, dtypes="duration", **every), errors=False),
        ]


# calamine's names of cell errors -> the code in the cell, which openpyxl returned; and a
# date cell calamine cannot convert (a serial beyond year 9999), which openpyxl made #VALUE!.
_EXCEL_ERRORS = {
    "DateTime": "#VALUE!",
    "Div0": "#DIV/0!",
    "NA": "#N/A",
    "Name": "#NAME?",
    "Null": "#NULL!",
    "Num": "#NUM!",
    "Ref": "#REF!",
    "Value": "#VALUE!",
    "GettingData": "#GETTING_DATA",
}
# fastexcel names the cell's error only in the text of its message.
_ERROR_DETAIL = re.compile(r"got '(?:Error\()?(\w+)")


def _block(sheet, errors: bool = True) -> Block:
    columns = [str(c.absolute_index) for c in sheet.selected_columns]
    if errors:
        batch, cell_errors = sheet.to_arrow_with_errors()
        frame = pl.DataFrame(pl.from_arrow(batch))
    else:  # reads where most cells do not convert: no error list
        frame, cell_errors = sheet.to_polars(), None
    frame.columns = columns
    texts = {}
    for error in cell_errors.errors if cell_errors else []:
        code = _ERROR_DETAIL.search(error.detail)
        if code and code.group(1) in _EXCEL_ERRORS:
            row, col = error.offset_position
            texts[row, columns[col]] = _EXCEL_ERRORS[code.group(1)]
    return Block(frame, texts)


def _read_xlsx_openpyxl(path: Path) -> RawTable:
    """openpyxl's read-only reader, a Python object per cell: for the files calamine cannot
    read, and the reference the calamine reader is tested against."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken zip/xml
        raise UnreadableFile(f"not a readable XLSX workbook ({type(exc).__name__})") from exc
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return RawTable(with_row_numbers(pl.DataFrame()), "xlsx", None)
        names = [_cell_text(h) for h in header]
        body = [[_cell_text(v) for v in row] for row in rows]
    except Exception as exc:
        raise UnreadableFile(f"not a readable XLSX workbook ({type(exc).__name__})") from exc
    finally:
        book.close()
    rows = [names, *body]
    cells = {
        str(i): [row[i] if i < len(row) else None for row in rows]
        for i in range(max(map(len, rows)))
    }
    return _table(pl.DataFrame(cells, schema=dict.fromkeys(cells, pl.String)))


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
