"""XLSX is read by calamine (fastexcel); every cell must read as the openpyxl reader read it.

The oracle is openpyxl itself with the rule the reader before applied to each cell, written
out here (`_text`), checked on hand-built workbooks, on every XLSX of the committed sample
and of the 30,000-children benchmark delivery when it has been generated.
"""

from __future__ import annotations

import random
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import fastexcel
import openpyxl
import polars as pl
import pytest
import xlsxwriter
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from pipelines.config import REPO_ROOT
from pipelines.ingest import readers
from pipelines.ingest.readers.xlsx_text import typed_text

BENCHMARK_RAW = REPO_ROOT / "benchmarks/data/30000-7-be69b8c0/raw"


def _text(value: object) -> str | None:
    """The reader before, per cell: openpyxl's value through `str()`, dates in ISO."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _openpyxl_table(path: Path) -> tuple[list[str], list[tuple]]:
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


def _assert_read_as_openpyxl(path: Path) -> pl.DataFrame:
    frame = readers.read_raw(path, path.read_bytes()).frame
    columns, rows = _openpyxl_table(path)
    assert frame.columns == columns
    got = frame.rows()
    assert len(got) == len(rows)
    for new, old in zip(got, rows, strict=True):  # cell by cell, to name the one that differs
        for name, a, b in zip(columns, new, old, strict=True):
            assert a == b, f"{path.name} row {old[0]} column {name}: {a!r} != {b!r}"
    return frame


@pytest.fixture
def sheet_reads(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The calamine reads made, one entry (its options) per read."""
    reads: list[dict] = []
    load_sheet = fastexcel.ExcelReader.load_sheet

    def counted(self, *args, **kwargs):
        reads.append(kwargs)
        return load_sheet(self, *args, **kwargs)

    monkeypatch.setattr(fastexcel.ExcelReader, "load_sheet", counted)
    return reads


def _patch_sheet(path: Path, replacements: dict[str, str]) -> Path:
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


def _column(frame: pl.DataFrame, name: str) -> list[str | None]:
    return frame.get_column(name).to_list()


def test_cells_read_as_openpyxl_read_them(tmp_path: Path, sheet_reads: list[dict]):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["身份证号", "身高", "次数", "出生日期", "检查时间", "是否知晓", "姓名", "备注"])
    sheet.cell(row=1, column=9, value="证件号码")
    formats = ["yyyy-mm-dd", "yyyy/m/d", 'yyyy"年"m"月"d"日"', "mm-dd-yy", "d-mmm-yy", "yyyy-mm-dd"]
    rows = [
        # ID numbers Excel made numbers: 18 digits, a float; 15 digits, an int
        [330206199001011000, 66.5, 12, date(2023, 3, 1), datetime(2023, 3, 1, 8, 30), True],
        [3.30206199001011e17, 0.1, 0, date(2023, 3, 2), datetime(2023, 3, 1, 8, 30, 15, 500000)],
        [None, 1e-7, -3, datetime(2023, 3, 3), datetime(2023, 3, 4), False],
        [330206900101123, -0.5, 12.0, date(1900, 1, 1), time(8, 30), None],  # 15 digits: int
        [None, 1e16, 1234567890123456, date(1900, 3, 1), datetime(1900, 1, 1, 12), True],
        [None, 12345.678, None, None, None, None],
    ]
    names = ["张三", "　王㛃　", "ＡＢＣ１２３", "  sp  ", "a\nb", "李四"]
    text_ids = ["33020619900101123X", "012345678901234567", None, "330206199001011000", "", "x"]
    for i, (row, fmt, name) in enumerate(zip(rows, formats, names, strict=True), start=2):
        sheet.append([*row, *[None] * (6 - len(row)), name, None, text_ids[i - 2]])
        sheet.cell(row=i, column=4).number_format = fmt
        sheet.cell(row=i, column=5).number_format = "yyyy-mm-dd hh:mm:ss"
    sheet.cell(row=5, column=5).number_format = "h:mm"
    sheet.append([None] * 8)  # row 8 without values and row 9 formatting only: not data
    sheet.cell(row=9, column=2).font = Font(bold=True)
    sheet.append([1.0, 2.5, 1, date(2023, 12, 31), None, None, "末行", None, "X1"])
    book.save(tmp_path / "cells.xlsx")

    frame = _assert_read_as_openpyxl(tmp_path / "cells.xlsx")
    assert _column(frame, "_row") == [2, 3, 4, 5, 6, 7, 10]
    assert _column(frame, "身份证号") == [
        "3.30206199001011e+17",  # invalid, as the contract says
        "3.30206199001011e+17",
        None,
        "330206900101123",
        None,
        None,
        "1",
    ]
    assert _column(frame, "证件号码") == [
        "33020619900101123X",
        "012345678901234567",
        None,
        "330206199001011000",
        None,  # openpyxl writes "" as no value
        "x",
        "X1",
    ]
    assert _column(frame, "身高")[:5] == ["66.5", "0.1", "1e-07", "-0.5", "1e+16"]
    assert _column(frame, "次数")[:5] == ["12", "0", "-3", "12", "1234567890123456"]
    assert _column(frame, "出生日期")[:3] == ["2023-03-01", "2023-03-02", "2023-03-03"]
    assert _column(frame, "检查时间")[:4] == [
        "2023-03-01 08:30:00",
        "2023-03-01 08:30:15.500000",
        "2023-03-04",
        "08:30:00",
    ]
    assert _column(frame, "是否知晓")[:3] == ["True", None, "False"]
    assert _column(frame, "姓名")[:4] == ["张三", "　王㛃　", "ＡＢＣ１２３", "  sp  "]
    assert _column(frame, "备注") == [None] * 7
    assert len(sheet_reads) == 1  # one type of cell per column under a text header: one read


MIXED_IDS = [330206199001011000, "33020619900101123X", "012345", 3.30206199001011e17, None]
MIXED_IDS += [True, datetime(2023, 3, 1), "#N/A", "王五", 1.5e-5]


def _mixed_by_openpyxl(path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["证件号码", "身高", 2023, "状态"])
    for row, value in enumerate(MIXED_IDS, start=2):
        sheet.append(
            [value if value != "#N/A" else "=NA()", [66.5, "不详", 70, "12", 0.1][row % 5]]
        )
        sheet.cell(row=row, column=3, value=row * 1.25)
        sheet.cell(row=row, column=4, value=datetime(2023, 1, row, 8 * (row % 2)))
        sheet.cell(row=row, column=4).number_format = "yyyy-mm-dd"
        sheet.cell(row=row, column=1).number_format = "yyyy-mm-dd" if row == 8 else "General"
    book.save(path)


def _mixed_by_xlsxwriter(path: Path) -> None:
    """As Excel and the sample generator write: formulas with their value, #N/A too."""
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["证件号码", "身高"])
    sheet.write_number(0, 2, 2023)
    sheet.write_string(0, 3, "状态")
    for row, value in enumerate(MIXED_IDS, start=1):
        if value == "#N/A":
            sheet.write_formula(row, 0, "=NA()", None, "#N/A")
        elif isinstance(value, datetime):
            sheet.write_datetime(row, 0, value, day)
        elif value is not None:
            sheet.write(row, 0, value)
        sheet.write(row, 1, [66.5, "不详", 70, "12", 0.1][(row + 1) % 5])
        sheet.write_number(row, 2, (row + 1) * 1.25)
        sheet.write_datetime(row, 3, datetime(2023, 1, row + 1, 8 * ((row + 1) % 2)), day)
    book.close()


@pytest.mark.parametrize("write", [_mixed_by_openpyxl, _mixed_by_xlsxwriter])
def test_columns_mixing_cell_types_read_as_openpyxl_read_them(tmp_path: Path, write):
    """Numbers and text, dates, booleans and errors in one column; a number as a header."""
    write(tmp_path / "mixed.xlsx")
    frame = _assert_read_as_openpyxl(tmp_path / "mixed.xlsx")
    assert _column(frame, "证件号码") == [
        "3.30206199001011e+17",
        "33020619900101123X",
        "012345",
        "3.30206199001011e+17",
        None,
        "True",
        "2023-03-01",
        "#N/A" if write is _mixed_by_xlsxwriter else None,  # openpyxl saves no formula value
        "王五",
        "1.5e-05",
    ]
    assert _column(frame, "身高")[:5] == ["70", "12", "0.1", "66.5", "不详"]
    assert _column(frame, "2023")[:2] == ["2.5", "3.75"]
    assert _column(frame, "状态")[:2] == ["2023-01-02", "2023-01-03 08:00:00"]


def _chartsheet_first(path: Path) -> None:
    book = openpyxl.Workbook()
    data = book.active
    data.title = "数据"
    data["B1"], data["C1"], data["E1"], data["F1"] = "a", "a", 2023, datetime(2023, 1, 5)
    data["G1"], data["H1"] = True, "=1/0"  # a formula openpyxl saves without its value
    data["B2"], data["C2"], data["D2"], data["E2"] = "x1", "x2", "x3", 1
    data["B4"] = "x4"
    data["J3"].font = Font(bold=True)  # formatting: the sheet's dimension ends at J
    chart = book.create_chartsheet("图", 0)
    bar = BarChart()
    bar.add_data(Reference(data, min_col=5, min_row=1, max_row=2))
    chart.add_chart(bar)
    book.save(path)


def _header_in_row_2(path: Path) -> None:
    book = openpyxl.Workbook()
    book.active["A2"], book.active["B2"], book.active["A3"] = "姓名", "性别", "张三"
    book.save(path)


def _dates_from_1904(path: Path) -> None:
    book = openpyxl.Workbook()
    book.epoch = CALENDAR_MAC_1904
    sheet = book.active
    sheet.append(["日期", "时间"])
    for value in [date(2023, 3, 1), datetime(1904, 1, 1), datetime(1904, 1, 2, 6), time(8, 30)]:
        sheet.append([value, value])
        sheet.cell(row=sheet.max_row, column=1).number_format = "yyyy-mm-dd"
        sheet.cell(row=sheet.max_row, column=2).number_format = "yyyy-mm-dd hh:mm"
    book.save(path)


def _durations(path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["时长", "n"])
    for hours in [26, 1.5, 1 + 0.5 / 3600, 72, 1.25 / 3600, -2, 0]:
        sheet.append([timedelta(hours=hours), 1])  # openpyxl formats them [h]:mm:ss
    book.save(path)


def _date_serials(path: Path) -> None:
    """Date cells holding serial numbers Excel never shows: 0, around the 1900 leap day,
    negative, beyond the year 9999 (openpyxl: #VALUE!)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["serial", "value"])
    for serial in [0, 0.25, 1, 59, 59.5, 60, 61, -1, -1.5, 2958465.5, 2958466, 1e10, 44986]:
        sheet.append([serial, serial])
        sheet.cell(row=sheet.max_row, column=2).number_format = "yyyy-mm-dd hh:mm:ss"
    book.save(path)


def _error_cells(path: Path) -> None:
    """Formula errors (their value as Excel saves it) in columns of one type otherwise."""
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["体重", "体检日期", "备注", "错误"])
    for row in range(1, 5):
        sheet.write_number(row, 0, row + 0.5)
        sheet.write_datetime(row, 1, datetime(2023, 5, row), day)
        sheet.write_string(row, 2, f"第{row}次")
    for col, error in enumerate(["#DIV/0!", "#N/A", "#REF!", "#VALUE!"]):
        sheet.write_formula(2, col, "=1/0", None, error)
    sheet.write_formula(3, 3, "=NAME()", None, "#NAME?")
    book.close()


def _repeated_names(path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["a", "b", "a", "a_1", None, "c_2"])
    book.active.append(["x1", "x2", "x3", "x4", "x5", "x6"])
    book.save(path)


def _header_only(path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["体检编号", None, "档案编号"])
    book.save(path)


def _empty(path: Path) -> None:
    openpyxl.Workbook().save(path)


@pytest.mark.filterwarnings("ignore:Cell .* is marked as a date")  # openpyxl: #VALUE!
@pytest.mark.parametrize(
    "build",
    [
        _chartsheet_first,
        _header_in_row_2,
        _dates_from_1904,
        _durations,
        _date_serials,
        _error_cells,
        _repeated_names,
        _header_only,
        _empty,
    ],
)
def test_sheet_layout_reads_as_openpyxl_read_it(tmp_path: Path, build):
    build(tmp_path / "book.xlsx")
    _assert_read_as_openpyxl(tmp_path / "book.xlsx")


def test_layouts_read_as_they_should(tmp_path: Path):
    _chartsheet_first(tmp_path / "chart.xlsx")
    frame = readers.read_raw(tmp_path / "chart.xlsx", b"").frame
    # Up to the header's last named column (G); the formatting out to J adds none.
    assert frame.columns == ["_row", "column_1", "a", "column_4", "2023", "2023-01-05", "True"]
    assert frame.rows()[0][1:5] == (None, "x2", "x3", "1")  # the second `a` wins
    _header_in_row_2(tmp_path / "row2.xlsx")
    table = readers.read_raw(tmp_path / "row2.xlsx", b"")
    # Row 1 names no column: every value is beyond the header, so each row is malformed.
    assert (table.frame.columns, table.frame.height) == (["_row"], 0)
    assert table.malformed.rows() == [
        (n, "a value where the header names no column") for n in (2, 3)
    ]


def test_float_text_is_what_openpyxl_printed(tmp_path: Path):
    """openpyxl writes numbers as `%.16g` (Excel, xlsxwriter and calamine agree on the value)
    and reads one back as an int when the text has no point or exponent, else a float."""
    rng = random.Random(20240630)
    values = [0.1 + 0.2, 1 / 3, 2 / 3 * 1e15, 9999999999999998.0, 1e16 - 2, 123456789012345.67]
    values += [5e-324, 1.7976931348623157e308, -0.0, 1e-4, 9.999999999999999e-05, 1e15, 1e-5]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-8, 20) for _ in range(20_000)]
    values += [float(rng.randint(-(10**17), 10**17)) for _ in range(2_000)]
    written = [f"{v:.16g}" for v in values]
    expected = [str(int(t) if not set(t) & set(".eE") else float(t)) for t in written]
    numbers = pl.DataFrame({"0": [float(t) for t in written]})
    got = typed_text(numbers, date1904=False).get_column("0").to_list()
    assert got == expected


@pytest.mark.parametrize("raw", [REPO_ROOT / "raw", BENCHMARK_RAW], ids=["sample", "benchmark"])
def test_delivered_xlsx_files_read_as_before(raw: Path):
    files = sorted(raw.rglob("*.xlsx"))
    if not files:
        pytest.skip(f"no XLSX under {raw} (the benchmark delivery is generated, not committed)")
    for path in files:
        _assert_read_as_openpyxl(path)


def test_files_calamine_refuses_are_read_by_openpyxl(tmp_path: Path):
    _write_text = tmp_path / "broken.xlsx"
    _write_text.write_text("not a workbook")
    with pytest.raises(readers.UnreadableFile, match=r"not a readable XLSX workbook \(BadZip"):
        readers.read_raw(_write_text, b"")
    book = openpyxl.Workbook()
    book.active.append(["编号", "值", "日期"])
    book.active.append(["S1", "SPILL", "ISO"])
    book.active.append(["S2", 1.5, "ISO2"])
    book.save(tmp_path / "book.xlsx")
    inline = '<c r="{}" t="inlineStr"><is><t>{}</t></is></c>'
    spill = _patch_sheet(  # Excel 365's #SPILL! (calamine refuses the sheet)
        tmp_path / "book.xlsx", {inline.format("B2", "SPILL"): '<c r="B2" t="e"><v>#SPILL!</v></c>'}
    )
    assert _column(_assert_read_as_openpyxl(spill), "值") == ["#SPILL!", "1.5"]
    iso = _patch_sheet(  # ISO date cells, which some writers use and calamine leaves as text
        tmp_path / "book.xlsx",
        {
            inline.format("C2", "ISO"): '<c r="C2" t="d"><v>2023-03-01T08:30:00</v></c>',
            inline.format("C3", "ISO2"): '<c r="C3" t="d"><v>2023-03-02T00:00:00.000Z</v></c>',
        },
    )
    assert _column(_assert_read_as_openpyxl(iso), "日期") == ["2023-03-01 08:30:00", "2023-03-02"]


def test_where_the_text_differs_from_openpyxl_on_purpose(tmp_path: Path):
    """A control character Excel escapes in the XML (`_x000D_`) is the character, which
    openpyxl left escaped; cells past a `<dimension>` that is too small are read, which
    openpyxl dropped."""
    path = tmp_path / "cr.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["姓名", "地址"])
    sheet.write_row(1, 0, ["张三\r\n", "宁波\r北仑"])
    book.close()
    frame = readers.read_raw(path, b"").frame
    assert frame.rows() == [(2, "张三\r\n", "宁波\r北仑")]
    assert _openpyxl_table(path)[1] == [(2, "张三_x000D_\n", "宁波_x000D_北仑")]
    small = _patch_sheet(path, {'<dimension ref="A1:B2"/>': '<dimension ref="A1"/>'})
    assert readers.read_raw(small, b"").frame.rows() == [(2, "张三\r\n", "宁波\r北仑")]
    assert _openpyxl_table(small) == (["_row", "姓名"], [])
