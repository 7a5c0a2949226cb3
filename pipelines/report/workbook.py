"""The exported cells and the XLSX workbook: a `说明` sheet saying what the figures are, then
one sheet per table with a filter, a frozen header and columns as wide as their content."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.report.definitions import Indicators
from pipelines.report.formatting import NO_DATA, SUPPRESSED, count, percent

# What a spreadsheet may evaluate at the start of a cell (contract section 7).
_ACTIVE = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_FORMATS = {"pct": "0.0%", "int": "0", "num": "0.0", "date": "yyyy-mm-dd"}
_MAX_WIDTH = 60  # characters; a longer text wraps
_UNITS = {"ratio": "比率（%）", "count": "计数", "slots_per_community": "每社区托位数"}
_DEFINITION_HEADERS = [
    "指标代码", "指标名称", "分子", "分母", "单位", "数据来源", "试点目标", "小单元抑制",
]  # fmt: skip
NOTES = "说明"
STREETS = "街道评估"
BACKLOG = "随访积压"
_STREETS_NOTE = (
    "各街道每季度的街道级试点目标：数值、是否达标、基线（首个评估季度的数值）与较基线变化"
    "（比率指标的变化即百分点）；三位一体建档率目标只适用于三位一体中心服务的街道。"
    "街道排名：达标数多者在前，其次比率目标平均变化（百分点）大者，再按街道代码。"
)

_BACKLOG_NOTE = (
    "各季度每个接收方（医疗卫生机构、托育机构或未分配）每种原因的随访清单行数：未建档、"
    "近一年未体检、未按4:2:2系统管理为儿童数，入托前未体检为入托人次；同一季度同一原因的各接收方"
    "之和等于对应指标的分母减分子（区级）。人数按同样规则抑制，并与同季度的区、街道指标缺口对照。"
)


@dataclass(frozen=True)
class Cell:
    """One published cell: its value (None when empty) and how to show it."""

    value: object
    kind: str  # "text", "int", "pct", "num", "date"
    suppressed: bool = False

    def text(self) -> str:
        if self.suppressed:
            return SUPPRESSED
        if self.value is None:
            return NO_DATA
        if self.kind == "pct":
            return percent(self.value)
        if self.kind == "int":
            return count(self.value)
        if self.kind == "num":
            return f"{self.value:.1f}"
        if self.kind == "date":
            return self.value.isoformat()
        text = str(self.value)
        return f"'{text}" if text.startswith(_ACTIVE) else text


Column = tuple[str, Callable[[dict], Cell]]
Table = tuple[list[Column], pl.DataFrame]


# Strings stay strings: never a formula, a link or a number read out of a text.
INERT_TEXT = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def text(value) -> Cell:
    return Cell(value, "text")


def grid(table: Table) -> list[list[Cell]]:
    columns, rows = table
    return [[make(row) for _, make in columns] for row in rows.iter_rows(named=True)]


@dataclass(frozen=True)
class AsOf:
    """What the `说明` sheet says the figures are."""

    district_name: str
    period: str
    period_end: date
    k: int
    source_file: str
    generated_at: str  # already in the reader's time zone


def notes(as_of: AsOf, indicators: Indicators, sheets: list[str]) -> list[list[Cell]]:
    """The `说明` sheet: what, as of when, how suppressed, and every indicator's definition.
    Its headings are the rows of one cell and the definitions' header row."""
    k = as_of.k
    rows = [
        [text(f"{as_of.district_name}医育结合评估数据")],
        [],
        [text("评估期（截至）"), text(as_of.period)],
        [text("参考日"), Cell(as_of.period_end, "date")],
        [text("小单元抑制阈值 k"), Cell(k, "int")],
        [text("数据来源"), text(f"发布库 {as_of.source_file}")],
        [text("生成时间"), text(as_of.generated_at)],
        [text("工作表"), text("、".join(sheets) + "：各季度的区与街道数据（社区数据不公布）")],
        [
            text(SUPPRESSED),
            text(
                f"涉及人数的指标（儿童、从业人员、调查问卷）中，1 至 {k - 1} 之间的人数及可由"
                "同表其他数字（比率×分母、分母−分子、全区减其他街道）推算出的单元格不公布，"
                f"标记为“{SUPPRESSED}”；分子或分母被抑制时，比率与是否达标也一并抑制。"
            ),
        ],
        [text(NO_DATA), text("该项没有数值：无目标、计数指标无分母，或分母为 0。")],
        *([[text(STREETS), text(_STREETS_NOTE)]] if STREETS in sheets else []),
        *([[text(BACKLOG), text(_BACKLOG_NOTE)]] if BACKLOG in sheets else []),
        [],
        [text("指标定义")],
        [text(h) for h in _DEFINITION_HEADERS],
    ]
    for code, d in indicators.by_code.items():
        rows.append(
            [
                text(code),
                text(d.name_zh),
                text(d.numerator_zh),
                text(d.denominator_zh),
                text(_UNITS.get(d.unit, d.unit)),
                text(d.sources_zh),
                text(d.target_zh),
                text("是" if d.counts_people else "否"),
            ]
        )
    return rows


def width(value: str) -> int:
    """Display width: a wide (CJK) character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value)


def write_workbook(
    path: Path, tables: dict[str, Table], as_of: AsOf, indicators: Indicators
) -> Path:
    book = xlsxwriter.Workbook(str(path), INERT_TEXT)
    formats = {kind: book.add_format({"num_format": f}) for kind, f in _NUMBER_FORMATS.items()}
    marked = book.add_format({"font_color": "#808080", "align": "right"})
    wrapped = book.add_format({"text_wrap": True, "valign": "top"})
    header = book.add_format({"bold": True, "bg_color": "#EAF2F8"})

    def write_cell(sheet, row: int, col: int, cell: Cell, style=None):
        if cell.suppressed or cell.value is None:
            return sheet.write_string(row, col, cell.text(), marked)
        if cell.kind == "text":
            value = str(cell.value)
            return sheet.write_string(
                row, col, value, style or (wrapped if width(value) > _MAX_WIDTH else None)
            )
        if cell.kind == "date":
            return sheet.write_datetime(row, col, cell.value, formats["date"])
        return sheet.write_number(row, col, float(cell.value), formats[cell.kind])

    sheet = book.add_worksheet(NOTES)
    sheet.add_write_handler(Cell, write_cell)
    rows = notes(as_of, indicators, list(tables))
    for i, cells in enumerate(rows):
        heading = len(cells) == 1 or cells[:1] == [text(_DEFINITION_HEADERS[0])]
        sheet.write_row(i, 0, cells, header if heading else None)
    _fit_columns(sheet, rows)
    for name, table in tables.items():
        sheet = book.add_worksheet(name)
        sheet.add_write_handler(Cell, write_cell)
        headers = [h for h, _ in table[0]]
        cells = grid(table)
        sheet.write_row(0, 0, headers, header)
        for i, row in enumerate(cells, start=1):
            sheet.write_row(i, 0, row)
        _fit_columns(sheet, [[text(h) for h in headers], *cells], extra=2)  # the filter button
        sheet.autofilter(0, 0, len(cells), len(headers) - 1)
        sheet.freeze_panes(1, 0)
    book.close()
    return path


def _fit_columns(sheet, rows: list[list[Cell]], extra: int = 0) -> None:
    widths: dict[int, int] = {}
    for cells in rows:
        for col, cell in enumerate(cells):
            widths[col] = max(widths.get(col, 0), width(cell.text()))
    for col, chars in widths.items():
        sheet.set_column(col, col, min(chars + 2 + extra, _MAX_WIDTH))
