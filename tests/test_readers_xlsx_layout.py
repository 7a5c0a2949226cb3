"""XLSX sheet layouts (chart sheets, header rows, the 1904 system, durations, date serials,
errors, repeated names, empty sheets) and workbooks calamine refuses read as the openpyxl
reader read them, and where the text differs from it on purpose (oracle:
`tests/xlsx_oracle.py`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from pipelines.ingest import readers
from tests.xlsx_oracle import assert_read_as_openpyxl, column_values, openpyxl_table, patch_sheet


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
    assert_read_as_openpyxl(tmp_path / "book.xlsx")


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
    spill = patch_sheet(  # Excel 365's #SPILL! (calamine refuses the sheet)
        tmp_path / "book.xlsx", {inline.format("B2", "SPILL"): '<c r="B2" t="e"><v>#SPILL!</v></c>'}
    )
    assert column_values(assert_read_as_openpyxl(spill), "值") == ["#SPILL!", "1.5"]
    iso = patch_sheet(  # ISO date cells, which some writers use and calamine leaves as text
        tmp_path / "book.xlsx",
        {
            inline.format("C2", "ISO"): '<c r="C2" t="d"><v>2023-03-01T08:30:00</v></c>',
            inline.format("C3", "ISO2"): '<c r="C3" t="d"><v>2023-03-02T00:00:00.000Z</v></c>',
        },
    )
    assert column_values(assert_read_as_openpyxl(iso), "日期") == [
        "2023-03-01 08:30:00",
        "2023-03-02",
    ]


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
    assert openpyxl_table(path)[1] == [(2, "张三_x000D_\n", "宁波_x000D_北仑")]
    small = patch_sheet(path, {'<dimension ref="A1:B2"/>': '<dimension ref="A1"/>'})
    assert readers.read_raw(small, b"").frame.rows() == [(2, "张三\r\n", "宁波\r北仑")]
    assert openpyxl_table(small) == (["_row", "姓名"], [])
