"""`yiyu export`: XLSX with a 说明 sheet and one sheet per table, CSV in UTF-8 with BOM,
small cells marked; read back with openpyxl as a spreadsheet user would see them."""

from __future__ import annotations

import csv
import unicodedata
from datetime import datetime

import openpyxl
import polars as pl
import pytest
from openpyxl.utils import get_column_letter
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.report.exports import write_exports
from tests.test_report_fixtures import (
    DEFINITIONS,
    NAMES,
    PERIODS,
    indicator_values,
    settings_for,
    write_published,
)

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

SHEETS = ["说明", "目标达成", "指标值", "街道评估", "街道排名"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    published = write_published(root / "warehouse" / "yiyu.duckdb")
    write_exports(root / "out", settings_for(published))
    return root / "out"


def test_yiyu_export_writes_the_files_of_the_configured_warehouse(exported, tmp_path, monkeypatch):
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(exported.parent / "warehouse" / "yiyu.duckdb"))
    result = CliRunner().invoke(app, ["export", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = ["评估数据.xlsx", "目标达成.csv", "指标值.csv", "街道评估.csv", "街道排名.csv"]
    assert result.output.splitlines() == [str(tmp_path / name) for name in names]
    for name in names[1:]:
        assert (tmp_path / name).read_bytes() == (exported / name).read_bytes()
    book = openpyxl.load_workbook(tmp_path / names[0])
    assert book.sheetnames == SHEETS


def _row(rows, period, code, scope):
    (row,) = [r for r in rows if r[0] == period and r[2] == code and r[5] == scope]
    return row


def test_xlsx_sheets_headers_values_and_formats(exported):
    book = openpyxl.load_workbook(exported / "评估数据.xlsx")
    assert book.sheetnames == SHEETS
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
        "已抑制", "已抑制", "已抑制", "无数据", "无数据",
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
    write_exports(tmp_path / "out", settings_for(published))
    sheet = openpyxl.load_workbook(tmp_path / "out" / "评估数据.xlsx")["指标值"]
    names = [(r[6].value, r[6].data_type) for r in sheet.iter_rows(min_row=2)]
    assert ("=HYPERLINK(1)", "s") in names and all(t == "s" for _, t in names)
    text = (tmp_path / "out" / "指标值.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(text.splitlines()))
    assert {r[6] for r in rows if r[5] == "330206003"} == {"'=HYPERLINK(1)"}
    card = list(csv.reader((tmp_path / "out" / "目标达成.csv").read_text("utf-8-sig").splitlines()))
    # The fixture's three-in-one target compares with "=".
    assert {r[5] for r in card if r[1] == "T01"} == {"'="}


def _width(text: str) -> int:
    """Display width as Excel shows it: a wide (CJK) character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _widths(sheet) -> dict[str, float]:
    """Column letter -> width; openpyxl groups neighbouring columns of one width."""
    widths = {}
    for dim in sheet.column_dimensions.values():
        for col in range(dim.min, dim.max + 1):
            widths[get_column_letter(col)] = dim.width
    return widths


def _shown(cell) -> str:
    """The text Excel shows for a cell, by its number format."""
    if cell.is_date:
        return f"{cell.value:%Y-%m-%d}"
    if isinstance(cell.value, str):
        return cell.value
    formats = {"0.0%": "{:.1%}", "0": "{:.0f}", "0.0": "{:.1f}"}
    return formats[cell.number_format].format(cell.value)


@pytest.mark.parametrize("name", SHEETS[1:])
def test_data_sheets_fit_filter_and_freeze(exported, name):
    sheet = openpyxl.load_workbook(exported / "评估数据.xlsx")[name]
    rows = list(sheet.iter_rows())
    last = get_column_letter(sheet.max_column)
    assert sheet.auto_filter.ref == f"A1:{last}{len(rows)}"
    assert sheet.freeze_panes == "A2"
    widths = _widths(sheet)
    for column in sheet.iter_cols():
        letter = column[0].column_letter
        texts = [_shown(c) for c in column]
        # As wide as the longest text Excel shows, with room for the filter button.
        assert max(map(_width, texts)) + 2 <= widths[letter] <= 62, (name, letter)
    # No blank cell: an empty value reads 无数据.
    assert all(c.value is not None for row in rows for c in row)


def test_wide_columns_fit_codes_and_chinese_targets(exported):
    book = openpyxl.load_workbook(exported / "评估数据.xlsx")
    card = _widths(book["目标达成"])
    # C (目标): "三位一体中心服务辖区建档率达100%" is 14 wide characters and 4 narrow ones.
    assert card["C"] >= 14 * 2 + 4 and card["F"] < card["C"]
    values = _widths(book["指标值"])
    assert values["C"] >= len("provincial_standard_stations")  # C: 指标代码


def test_reference_dates_are_date_cells(exported):
    sheet = openpyxl.load_workbook(exported / "评估数据.xlsx")["指标值"]
    dates = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert all(c.is_date and c.number_format == "yyyy-mm-dd" for c in dates)
    assert {c.value for c in dates} == {datetime(d.year, d.month, d.day) for _, d in PERIODS}
    text = (exported / "指标值.csv").read_text(encoding="utf-8-sig").splitlines()[1]
    assert text.split(",")[1] == "2022-12-31"


def test_notes_sheet_says_what_the_figures_are(exported):
    sheet = openpyxl.load_workbook(exported / "评估数据.xlsx")["说明"]
    rows = [[c for c in row if c.value is not None] for row in sheet.iter_rows()]
    by_label = {r[0].value: r[1] for r in rows if len(r) == 2}
    assert rows[0][0].value == "北仑区医育结合评估数据"
    assert by_label["评估期（截至）"].value == "2023Q2"
    assert by_label["参考日"].is_date and by_label["参考日"].value == datetime(2023, 6, 30)
    assert by_label["小单元抑制阈值 k"].value == 5
    assert "1 至 4 之间的人数" in by_label["已抑制"].value
    assert "标记为“已抑制”" in by_label["已抑制"].value
    assert "无目标" in by_label["无数据"].value
    header = next(i for i, r in enumerate(rows) if r and r[0].value == "指标代码")
    assert [c.value for c in rows[header]] == [
        "指标代码", "指标名称", "分子", "分母", "单位", "数据来源", "试点目标", "小单元抑制",
    ]  # fmt: skip
    definitions = {r[0].value: [c.value for c in r] for r in rows[header + 1 :]}
    assert list(definitions) == list(DEFINITIONS)  # the plan's order, one row each
    for code, (unit, people, _, numerator, denominator, target_zh) in DEFINITIONS.items():
        row = definitions[code]
        assert row[1:4] == [NAMES[code], numerator, denominator]
        assert row[4] == {"ratio": "比率（%）", "count": "计数"}.get(unit, "每社区托位数")
        assert row[6:] == [target_zh, "是" if people else "否"]
    assert definitions["staff_certification_rate"][5] == "从业人员、托育机构名录"


def test_csv_writes_no_data_for_an_empty_cell(exported):
    rows = list(csv.reader((exported / "指标值.csv").read_text("utf-8-sig").splitlines()))
    assert _row(rows, "2023Q2", "enrollment_check_rate", "330206")[10:12] == ["无数据"] * 2
    assert _row(rows, "2023Q2", "provincial_standard_stations", "330206")[8] == "无数据"


def test_street_sheets_carry_the_assessment_and_the_ranking_suppressed(exported):
    book = openpyxl.load_workbook(exported / "评估数据.xlsx")
    header, *rows = [[c.value for c in r] for r in book["街道评估"].iter_rows()]
    assert header == [
        "季度", "街道代码", "街道名称", "目标代码", "指标代码", "指标", "数值", "目标值",
        "是否达标", "基线（首个季度）", "较基线变化",
    ]  # fmt: skip
    by_key = {(r[0], r[1], r[4]): r for r in rows}
    # 新碶's staff: 40/50 in 2023Q2, 32/50 in 2022Q4.
    assert by_key[("2023Q2", "330206001", "staff_certification_rate")][6:] == [
        pytest.approx(0.8), pytest.approx(0.8), "是", pytest.approx(0.64), pytest.approx(0.16),
    ]  # fmt: skip
    # 大碶's staff: 3 of 4 (2 of 4 at first): value, state, baseline and change hidden.
    assert by_key[("2023Q2", "330206002", "staff_certification_rate")][6:] == [
        "已抑制", pytest.approx(0.8), "已抑制", "已抑制", "已抑制",
    ]  # fmt: skip
    # No filing target where no three-in-one centre serves (霞浦 330206003).
    assert ("2023Q2", "330206003", "record_filing_rate") not in by_key
    assert len(rows) == 3 * (8 + 8 + 7 + 7)
    header, *ranking = [[c.value for c in r] for r in book["街道排名"].iter_rows()]
    assert header[:5] == ["季度", "排名", "街道代码", "街道名称", "适用目标数"]
    q2 = [r for r in ranking if r[0] == "2023Q2"]
    assert [r[1:5] for r in q2] == [
        [1, "330206001", "新碶街道", 8],
        [2, "330206002", "大碶街道", 8],
        [3, "330206004", "柴桥街道", 7],
        [4, "330206003", "霞浦街道", 7],
    ]
    # 新碶: +19.0, +19.0, +16.7 (50/3), 0, 0, +16.0, +18.0 points over its 7 ratio targets.
    assert (
        q2[0][5:] == [7, pytest.approx((19 + 19 + 50 / 3 + 16 + 18) / 7)]
        and q2[1][5:] == ["已抑制"] * 2
    )
    notes = {r[0].value: r[1].value for r in book["说明"].iter_rows() if r[1].value is not None}
    assert "首个评估季度" in notes["街道评估"]
