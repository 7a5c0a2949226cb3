"""Reading raw files into all-text frames: CSV (encoding detected), XLSX (first sheet), Parquet.

Every reader returns the header as the file has it and the rows as text, with `_row` the
spreadsheet row number (header = 1). Typing happens later, in one place, for every format.
"""

from __future__ import annotations

import io
import logging
import posixpath
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from xml.etree import ElementTree

import polars as pl

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}

# fastexcel warns of every column without a value ("falling back to string"): that is text.
logging.getLogger("fastexcel.types.dtype").setLevel(logging.ERROR)


class UnreadableFile(Exception):
    """The file cannot be read at all; the message says why."""


@dataclass(frozen=True)
class RawTable:
    frame: pl.DataFrame  # columns named as in the file (text; Parquet dates, decimals), `_row`
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
    # UTF-8 bytes are read as they are (decoding checked them); others are re-encoded.
    utf8 = {"utf-8": data, "utf-8-sig": data[3:]}.get(encoding) or text.encode("utf-8")
    try:
        frame = pl.read_csv(io.BytesIO(utf8), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise UnreadableFile(f"malformed CSV: {str(exc).splitlines()[0]}") from exc
    return RawTable(_with_row_numbers(frame), "csv", encoding)


def _read_xlsx(path: Path) -> RawTable:
    """The first worksheet, read by calamine (fastexcel), each cell the text openpyxl's value
    gave through `str()` (`_read_xlsx_openpyxl`, the reader before): a string as stored; a
    number as Python prints it (`_float_text`); a date an ISO date, `str(datetime)` with a
    time; a boolean `True` or `False`; an error its code (`#N/A`); an empty cell null. Row 1
    is the header; columns run from A to the last one with a value or, if further, to the
    sheet's `<dimension>` (openpyxl padded rows to it); a header without text is `column_<n>`.
    """
    import fastexcel

    try:
        name, declared_width, text_header, date1904 = _workbook_layout(path)
        reader = fastexcel.read_excel(str(path))
        # a column of more than one type of cell, or one with a #NAME? error, types no column
        mixed = (fastexcel.UnsupportedColumnTypeCombinationError, fastexcel.CalamineCellError)
        blocks = _load_sheet(reader, name, text_header, mixed)
    except Exception:  # a broken file, or cells calamine refuses (`#SPILL!`): openpyxl decides
        return _read_xlsx_openpyxl(path)
    if blocks is None:  # not one cell with a value
        return RawTable(_with_row_numbers(pl.DataFrame()), "xlsx", None)
    if _iso_text(blocks):  # perhaps ISO date cells (t="d", not Excel's): openpyxl parsed them
        return _read_xlsx_openpyxl(path)
    texts = _sheet_text(blocks, date1904)  # row 0 the header; columns "0" (A), "1" (B)...
    header = texts.row(0, named=True)
    columns: dict[str, pl.Expr] = {}  # a repeated name keeps its place and its last column
    for i in range(max([declared_width, *(int(c) + 1 for c in header)])):
        text = header.get(str(i))
        column = pl.col(str(i)) if str(i) in header else pl.lit(None, pl.String)
        columns[text or f"column_{i + 1}"] = column
    frame = _with_row_numbers(texts.slice(1).select(e.alias(n) for n, e in columns.items()))
    # Rows with no value at all are Excel formatting, not data.
    frame = frame.filter(~pl.all_horizontal(pl.exclude("_row").is_null()))
    return RawTable(frame, "xlsx", None)


def _read_xlsx_openpyxl(path: Path) -> RawTable:
    """The reader before calamine, a Python object per cell (ten times slower): for the
    files calamine cannot read, and the reference the calamine reader is tested against."""
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
    except Exception as exc:
        raise UnreadableFile(f"not a readable XLSX workbook ({type(exc).__name__})") from exc
    finally:
        book.close()
    width = len(names)
    columns = {
        name: [row[i] if i < len(row) else None for row in body] for i, name in enumerate(names)
    }
    frame = _with_row_numbers(pl.DataFrame(columns, schema={n: pl.String for n in columns}))
    frame = frame.filter(~pl.all_horizontal(pl.exclude("_row").is_null())) if width else frame
    return RawTable(frame, "xlsx", None)


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


@dataclass
class _Block:
    """Cells as calamine typed them, columns named by absolute column index ("0" is A),
    rows consecutive sheet rows; error cells (null in `frame`) apart, as their text."""

    frame: pl.DataFrame
    errors: dict[tuple[int, str], str]  # (row in frame, column) -> "#N/A"...


def _block(sheet, errors: bool = True) -> _Block:
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
    return _Block(frame, texts)


def _load_sheet(reader, name: str, text_header: bool, mixed: tuple[type[Exception], ...]):
    """The sheet's cells, typed: [header row, rows under it] when each column holds one type
    of cell, else [all rows as text, as booleans, as durations] (`_mixed_text`); None when
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
                return [_Block(pl.DataFrame(header), {}), _block(sheet)]
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


# Text of an ISO date cell (`<c t="d">`) that openpyxl printed otherwise: a datetime, a time
# of day or a duration; calamine gives such cells as they are written.
_ISO_CELL = r"^(?:\d{4}-\d{2}-\d{2}[TZ]|\d{2}:\d{2}|PT\d)"


def _iso_text(blocks: list[_Block]) -> bool:
    frames = blocks if len(blocks) == 2 else blocks[:1]  # typed: the text columns hold them
    return any(
        b.frame.select(pl.any_horizontal(pl.col(pl.String).str.contains(_ISO_CELL).any())).item()
        for b in frames
        if pl.String in b.frame.dtypes
    )


def _sheet_text(blocks: list[_Block], date1904: bool) -> pl.DataFrame:
    if len(blocks) == 2:  # the header row and the rows under it, one type per column each
        header, body = blocks
        texts = pl.concat([_typed_text(b.frame, date1904) for b in blocks])
        errors = header.errors | {(r + 1, c): text for (r, c), text in body.errors.items()}
    else:
        texts, errors = _mixed_text(*blocks, date1904), blocks[0].errors
    fixed: dict[str, pl.Series] = {}
    for (row, col), text in errors.items():
        fixed[col] = fixed.get(col, texts.get_column(col).clone()).scatter(row, text)
    return texts.with_columns(fixed.values())


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
_ERROR_DETAIL = re.compile(r"got '(?:Error\()?(\w+)")


def _typed_text(frame: pl.DataFrame, date1904: bool) -> pl.DataFrame:
    """Each column of a block holding one type of cell per column, as text."""
    exprs = []
    for name, dtype in frame.schema.items():
        x = pl.col(name)
        if dtype == pl.Boolean:
            exprs.append(_bool_text(x))
        elif dtype.is_numeric():
            exprs.append(_float_text(x.cast(pl.Float64)))
        elif dtype == pl.Duration:  # a [h]:mm format
            exprs.append(_duration_text(x))
        elif dtype in (pl.Datetime, pl.Date):
            exprs.append(_datetime_text(x.cast(pl.Datetime("ms")), date1904))
        else:  # text, or no value in the whole column
            exprs.append(x.cast(pl.String))
    texts = frame.select(e.alias(n) for e, n in zip(exprs, frame.columns, strict=True))
    numbers = [pl.col(n).cast(pl.Float64) for n, t in frame.schema.items() if t.is_numeric()]
    return _python_floats(frame.select(numbers), texts)


def _mixed_text(
    as_text: _Block, as_bool: _Block, as_serial: _Block, date1904: bool
) -> pl.DataFrame:
    """All cells, whatever their type. As text calamine gives a text cell as stored, a
    number in full (`330206199001011328`), a boolean `true`/`false`; as a boolean it converts
    number and boolean cells only; as a duration date cells only (their serial number)."""
    both = pl.concat(
        [
            as_text.frame,
            as_bool.frame.rename(lambda c: f"b{c}"),
            as_serial.frame.rename(lambda c: f"d{c}"),
        ],
        how="horizontal",
    )
    epoch = datetime(1904, 1, 1) if date1904 else datetime(1899, 12, 30)
    texts, numbers = [], []
    for n in as_text.frame.columns:
        text, flag = pl.col(n), pl.col(f"b{n}")
        serial = pl.col(f"d{n}").cast(pl.Duration("ms"))
        if not date1904:  # as calamine's datetimes: a day later below 60 (`_datetime_text`)
            serial = (
                pl.when(serial < timedelta(days=60))
                .then(serial + timedelta(days=1))
                .otherwise(serial)
            )
        is_bool = flag.is_not_null() & text.is_in(["true", "false"])
        number = pl.when(flag.is_not_null() & ~is_bool).then(text.cast(pl.Float64, strict=False))
        numbers.append(number.alias(n))
        texts.append(
            pl.when(serial.is_not_null())
            .then(_datetime_text(pl.lit(epoch) + serial, date1904))
            .when(is_bool)
            .then(_bool_text(flag))
            .when(flag.is_not_null())
            .then(_float_text(number))
            .otherwise(text)
            .alias(n)
        )
    return _python_floats(both.select(numbers), both.select(texts))


def _bool_text(x: pl.Expr) -> pl.Expr:
    return pl.when(x).then(pl.lit("True")).when(~x).then(pl.lit("False"))


def _float_text(x: pl.Expr) -> pl.Expr:
    """A number cell as openpyxl and `str()` gave it. openpyxl made a number written without
    a point or exponent an int, and writers print a whole number below 1e16 so (`%.16g`);
    any other is Python's `repr(float)`, so an ID number Excel made a number reads
    `3.30206199001011e+17` and fails validation. Polars prints a float in [1e-4, 1e16) as
    Python does; `_python_floats` gives the others."""
    whole = (x == x.floor()) & (x.abs() < 1e16)
    integer = x.cast(pl.Int64, strict=False).cast(pl.String)
    return pl.when(whole).then(integer).otherwise(x.cast(pl.String))


def _python_floats(numbers: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """Numbers whose repr has an exponent (or is inf/nan) get it from Python: few values,
    typically ID numbers Excel made numbers, one `repr` per distinct value."""
    fixed = []
    for name in numbers.columns:
        x = numbers.get_column(name)
        odd = ~x.is_finite() | (x.abs() >= 1e16) | ((x != 0) & (x.abs() < 1e-4))
        odd = odd.fill_null(False)
        if odd.any():
            values = x.filter(odd).unique()
            python = x.replace_strict(values, [repr(v) for v in values], default=None)
            fixed.append(python.zip_with(odd, texts.get_column(name)).alias(name))
    return texts.with_columns(fixed)


def _duration_text(x: pl.Expr) -> pl.Expr:
    """A duration cell as openpyxl gave it: `str(timedelta)`, `1 day, 2:00:00.500000`."""
    ms = x.dt.total_milliseconds()
    days = ms // 86_400_000
    rest = ms - days * 86_400_000
    fraction = ((rest % 1000) * 1000).cast(pl.String).str.zfill(6)
    clock = pl.concat_str(
        (rest // 3_600_000).cast(pl.String),
        pl.lit(":"),
        (rest // 60_000 % 60).cast(pl.String).str.zfill(2),
        pl.lit(":"),
        (rest // 1000 % 60).cast(pl.String).str.zfill(2),
        pl.when(rest % 1000 != 0).then(pl.concat_str(pl.lit("."), fraction)).otherwise(pl.lit("")),
    )
    unit = pl.when(days.abs() == 1).then(pl.lit(" day, ")).otherwise(pl.lit(" days, "))
    in_days = (
        pl.when(days != 0).then(pl.concat_str(days.cast(pl.String), unit)).otherwise(pl.lit(""))
    )
    return pl.concat_str(in_days, clock)


def _datetime_text(x: pl.Expr, date1904: bool) -> pl.Expr:
    """A date cell as openpyxl and `_cell_text` gave it, from calamine's datetime (ms):
    a serial number in [0, 1) a time of day (`08:30:00`), a datetime at midnight a date
    (`2023-03-01`), any other `str(datetime)` (`2023-03-01 08:30:00.500000`), one beyond
    Python's datetimes `#VALUE!`. Both count a serial below 60 a day later (Excel's 1900
    leap day); calamine does so for a negative serial too, openpyxl not."""
    day0 = datetime(1904, 1, 1) if date1904 else datetime(1899, 12, 31)  # serial 0
    if not date1904:
        x = pl.when(x < day0).then(x - timedelta(days=1)).otherwise(x)
    python = x.is_between(datetime.min, datetime.max.replace(microsecond=999000))
    valid = pl.when(python).then(x)
    full = valid.dt.strftime("%Y-%m-%d %H:%M:%S%.6f")  # Excel's years have four digits
    whole_second = valid.dt.millisecond() == 0
    return (
        pl.when(~python)
        .then(pl.lit("#VALUE!"))
        .when((x >= day0) & (x < day0 + timedelta(days=1)))
        .then(pl.when(whole_second).then(full.str.slice(11, 8)).otherwise(full.str.slice(11)))
        .when(valid.dt.time() == time(0))
        .then(full.str.slice(0, 10))
        .when(whole_second)
        .then(full.str.slice(0, 19))
        .otherwise(full)
    )


def _workbook_layout(path: Path) -> tuple[str, int, bool, bool]:
    """What openpyxl took from the package besides cells: the first worksheet (chartsheets
    are not), its declared last column (`<dimension>`; 0 without); whether its row 1 holds
    text cells only (`_sheet_head`); the 1904 date system."""
    with zipfile.ZipFile(path) as package:
        book = ElementTree.fromstring(package.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): (r.get("Type", ""), _part(r.get("Target", ""))) for r in rels}
        date1904 = any(
            _local(e.tag) == "workbookPr" and e.get("date1904") in ("1", "true") for e in book
        )
        parts = set(package.namelist())
        for sheet in (e for e in book.iter() if _local(e.tag) == "sheet"):
            rel_id = next((v for k, v in sheet.attrib.items() if _local(k) == "id"), None)
            kind, part = targets.get(rel_id, ("", ""))
            if part in parts and "chartsheet" not in kind:
                return sheet.get("name", ""), *_sheet_head(package, part), date1904
    raise KeyError("no worksheet in the workbook")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _part(target: str) -> str:
    return target[1:] if target.startswith("/") else posixpath.normpath(f"xl/{target}")


_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref=\"\$?([A-Z]+)\$?\d+(?::\$?([A-Z]+))?")
_FIRST_ROW = re.compile(
    rb"<(?:\w+:)?sheetData\b[^>]*>\s*<((?:\w+:)?row)\b([^>]*?)(/>|>(.*?)</\1>)", re.S
)
_ROW_NUMBER = re.compile(rb"\br=\"(\d+)\"")
_CELL = re.compile(rb"<((?:\w+:)?c)\b([^>]*?)(?:/>|>(.*?)</\1>)", re.S)
_CELL_TYPE = re.compile(rb"\bt=\"(\w+)\"")
_HAS_VALUE = re.compile(rb"<(?:\w+:)?[vt]\b[^>]*>[^<]")  # a value, or inline text


def _sheet_head(package: zipfile.ZipFile, part: str) -> tuple[int, bool]:
    """From the start of the sheet's XML: the last column of its `<dimension>` (0 if none),
    and whether its first row is row 1 with a value, and text only."""
    head = b""
    with package.open(part) as sheet:
        while not (row := _FIRST_ROW.search(head)) and (chunk := sheet.read(1 << 14)):
            head += chunk
            if len(head) > 1 << 22:  # a first row of 4 MB: leave it to calamine
                break
    found = _DIMENSION.search(head, 0, row.start() if row else len(head))
    letters = (found.group(2) or found.group(1)).decode() if found else ""
    width = sum((ord(c) - 64) * 26**i for i, c in enumerate(reversed(letters)))
    number = _ROW_NUMBER.search(row.group(2)) if row else None
    if not row or (number and number.group(1) != b"1"):
        return width, False
    types = [
        (kind.group(1) if (kind := _CELL_TYPE.search(c.group(2))) else b"n")
        for c in _CELL.finditer(row.group(4) or b"")
        if _HAS_VALUE.search(c.group(3) or b"")
    ]
    return width, bool(types) and all(t in (b"s", b"inlineStr", b"str") for t in types)


def _read_parquet(path: Path) -> RawTable:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise UnreadableFile(f"not a readable Parquet file ({str(exc).splitlines()[0]})") from exc
    # Dates and decimals stay typed (parse.py takes them as they are), the rest is text.
    frame = frame.with_columns(pl.exclude(pl.Date, pl.Float64).cast(pl.String))
    return RawTable(_with_row_numbers(frame), "parquet", None)


def read_raw(path: Path, data: bytes) -> RawTable:
    kind = FORMATS[path.suffix.lower()]
    if kind == "csv":
        return _read_csv(data)
    if kind == "xlsx":
        return _read_xlsx(path)
    return _read_parquet(path)
