"""XLSX is read by calamine (fastexcel); every cell must read as the openpyxl reader read it.

The oracle is openpyxl itself with the rule the reader before applied to each cell
(`tests/xlsx_oracle.py`), checked here on cell values of hand-built workbooks, on every XLSX of
the committed sample and of the 30,000-children benchmark delivery when it has been generated;
sheet layouts and damaged workbooks are in `test_readers_xlsx_layout.py`.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time
from pathlib import Path

import fastexcel
import openpyxl
import polars as pl
import pytest
import xlsxwriter
from openpyxl.styles import Font

from pipelines.config import REPO_ROOT
from pipelines.ingest.readers.xlsx_text import typed_text
from tests.xlsx_oracle import assert_read_as_openpyxl, column_values

BENCHMARK_RAW = REPO_ROOT / "benchmarks/data/30000-7-be69b8c0/raw"


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

    frame = assert_read_as_openpyxl(tmp_path / "cells.xlsx")
    assert column_values(frame, "_row") == [2, 3, 4, 5, 6, 7, 10]
    assert column_values(frame, "身份证号") == [
        "3.30206199001011e+17",  # invalid, as the contract says
        "3.30206199001011e+17",
        None,
        "330206900101123",
        None,
        None,
        "1",
    ]
    assert column_values(frame, "证件号码") == [
        "33020619900101123X",
        "012345678901234567",
        None,
        "330206199001011000",
        None,  # openpyxl writes "" as no value
        "x",
        "X1",
    ]
    assert column_values(frame, "身高")[:5] == ["66.5", "0.1", "1e-07", "-0.5", "1e+16"]
    assert column_values(frame, "次数")[:5] == ["12", "0", "-3", "12", "1234567890123456"]
    assert column_values(frame, "出生日期")[:3] == ["2023-03-01", "2023-03-02", "2023-03-03"]
    assert column_values(frame, "检查时间")[:4] == [
        "2023-03-01 08:30:00",
        "2023-03-01 08:30:15.500000",
        "2023-03-04",
        "08:30:00",
    ]
    assert column_values(frame, "是否知晓")[:3] == ["True", None, "False"]
    assert column_values(frame, "姓名")[:4] == ["张三", "　王㛃　", "ＡＢＣ１２３", "  sp  "]
    assert column_values(frame, "备注") == [None] * 7
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
    frame = assert_read_as_openpyxl(tmp_path / "mixed.xlsx")
    assert column_values(frame, "证件号码") == [
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
    assert column_values(frame, "身高")[:5] == ["70", "12", "0.1", "66.5", "不详"]
    assert column_values(frame, "2023")[:2] == ["2.5", "3.75"]
    assert column_values(frame, "状态")[:2] == ["2023-01-02", "2023-01-03 08:00:00"]


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
        assert_read_as_openpyxl(path)
