"""`yiyu export`: XLSX with one sheet per table and CSV in UTF-8 with BOM, small cells marked."""

from __future__ import annotations

import csv

import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.report.exports import write_exports
from tests.test_report_fixtures import PERIODS, indicator_values, write_published

VALUE_HEADERS = [
    "季度", "参考日", "指标代码", "指标名称", "范围级别", "范围代码", "范围名称",
    "分子", "分母", "数值", "目标值", "是否达标",
]  # fmt: skip
CARD_HEADERS = [
    "季度",
    "目标代码",
    "目标",
    "指标代码",
    "指标",
    "比较",
    "目标值",
    "当前值",
    "是否达标",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    published = write_published(root / "warehouse" / "yiyu.duckdb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YIYU_WAREHOUSE_PATH", str(published))
        result = CliRunner().invoke(app, ["export", "--out", str(root / "out")])
    assert result.exit_code == 0, result.output
    return root / "out"


def _row(rows, period, code, scope):
    (row,) = [r for r in rows if r[0] == period and r[2] == code and r[5] == scope]
    return row


def test_xlsx_sheets_headers_values_and_formats(exported):
    book = openpyxl.load_workbook(exported / "评估数据.xlsx")
    assert book.sheetnames == ["目标达成", "指标值"]
    values = book["指标值"]
    assert [c.value for c in values[1]] == VALUE_HEADERS
    rows = list(values.iter_rows(min_row=2))
    # 3 periods x 12 indicators x (district + 4 streets); community rows are not exported.
    assert len(rows) == len(PERIODS) * 12 * 5
    cells = [[c for c in r] for r in rows]
    plain = [[c.value for c in r] for r in rows]
    i = plain.index(_row(plain, "2023Q2", "parenting_knowledge_rate", "330206"))
    assert plain[i][7:10] == [133, 144, pytest.approx(133 / 144)]
    assert cells[i][9].number_format == "0.0%" and cells[i][10].value == pytest.approx(0.9)
    assert cells[i][10].number_format == "0.0%" and plain[i][11] == "是"
    # 18 of 20 passed in street 2: the numerator, the rate and its state are suppressed.
    assert _row(plain, "2023Q2", "parenting_knowledge_rate", "330206002")[7:12] == [
        "已抑制", 20, "已抑制", pytest.approx(0.9), "已抑制",
    ]  # fmt: skip
    # Enrollment checks have no target: a suppressed row has no state to mark.
    assert _row(plain, "2023Q2", "enrollment_check_rate", "330206004")[7:12] == [
        "已抑制", "已抑制", "已抑制", None, None,
    ]  # fmt: skip
    slots = plain.index(_row(plain, "2023Q2", "slots_per_community", "330206"))
    assert plain[slots][9] == pytest.approx(753 / 53) and cells[slots][9].number_format == "0.0"
    card = book["目标达成"]
    assert [c.value for c in card[1]] == CARD_HEADERS
    (t01,) = [
        r for r in card.iter_rows(min_row=2) if r[0].value == "2023Q2" and r[1].value == "T01"
    ]
    assert t01[7].value == pytest.approx(0.94) and t01[7].number_format == "0.0%"
    assert t01[8].value == "否"


def test_csv_has_bom_and_the_same_cells_as_text(exported):
    raw = (exported / "指标值.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == VALUE_HEADERS
    assert _row(rows, "2023Q2", "parenting_knowledge_rate", "330206")[7:12] == [
        "133", "144", "92.4%", "90.0%", "是",
    ]  # fmt: skip
    assert _row(rows, "2023Q2", "staff_certification_rate", "330206002")[7:10] == ["已抑制"] * 3
    card = (exported / "目标达成.csv").read_bytes()
    assert card.startswith(b"\xef\xbb\xbf")
    assert card.decode("utf-8-sig").splitlines()[0].split(",") == CARD_HEADERS


def test_text_cells_are_inert(tmp_path):
    """A text cell a spreadsheet would evaluate stays text: a string cell in XLSX, an
    apostrophe in front in CSV."""
    values = indicator_values().with_columns(
        scope_name=pl.when(pl.col("scope_code") == "330206003")
        .then(pl.lit("=HYPERLINK(1)"))
        .otherwise(pl.col("scope_name"))
    )
    published = write_published(tmp_path / "yiyu.duckdb", values=values)
    write_exports(tmp_path / "out", published)
    sheet = openpyxl.load_workbook(tmp_path / "out" / "评估数据.xlsx")["指标值"]
    names = [(r[6].value, r[6].data_type) for r in sheet.iter_rows(min_row=2)]
    assert ("=HYPERLINK(1)", "s") in names and all(t == "s" for _, t in names)
    text = (tmp_path / "out" / "指标值.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(text.splitlines()))
    assert {r[6] for r in rows if r[5] == "330206003"} == {"'=HYPERLINK(1)"}
    card = list(csv.reader((tmp_path / "out" / "目标达成.csv").read_text("utf-8-sig").splitlines()))
    # The fixture's three-in-one target compares with "=".
    assert {r[5] for r in card if r[1] == "T01"} == {"'="}
