"""One recipient's worklist as XLSX bytes, built in memory: sheet `清单` (its rows, headers in
Chinese with the English code in brackets, identifiers as text cells) and sheet `说明`.

Cells are inert as the project's exports are (pipelines/report/workbook.py): every text is a
string cell, never a formula, a link or a number read out of a text. Nothing touches the disk:
xlsxwriter builds the file in memory (`in_memory`), so no temporary file holds a handle.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial

import polars as pl
import xlsxwriter

from pipelines.ingest.sources import CLASS_TYPES
from pipelines.report.workbook import INERT_TEXT, width
from pipelines.worklists.rows import INSTITUTION, Recipient

LIST, NOTES = "清单", "说明"
HANDLE_KINDS = {
    "archive_no": "健康档案编号",
    "birth_cert_no": "出生医学证明编号",
    "id_number": "身份证号",
    "enrollment_no": "入托登记号",
    "none": "无可用号码",
}
RECIPIENT_TYPES = {
    "health_facility": "医疗卫生机构",
    "institution": "托育机构",
    "unassigned": "未分配（由区妇幼保健机构核实辖区后转交）",
}
SEXES = {"M": "男", "F": "女"}
CLASSES = {code: aliases[0] for code, aliases in CLASS_TYPES.items()}
_MAX_WIDTH = 40  # characters
# Below this many rows in all, starting worker processes costs more than it saves.
PARALLEL_ROWS = 50_000


@dataclass(frozen=True)
class Column:
    header: str  # Chinese, then the English code in brackets
    column: str  # of the display frame
    kind: str  # text | date | int


def _col(chinese: str, code: str, kind: str = "text") -> Column:
    return Column(f"{chinese} ({code})", code, kind)


_REASON = [_col("原因", "reason"), _col("原因名称", "reason_zh")]
_HANDLE = [_col("号码", "handle"), _col("号码类型", "handle_kind")]
HEALTH_COLUMNS = [
    *_REASON,
    *_HANDLE,
    _col("建档机构代码", "handle_facility_code"),
    _col("出生日期", "birth_date", "date"),
    _col("性别", "sex"),
    _col("社区代码", "community_code"),
    _col("社区", "community_name"),
    _col("托育机构代码", "institution_code"),
    _col("托育机构", "institution_name"),
    _col("应完成体检次数", "milestones_due", "int"),
    _col("已完成体检次数", "checks_done", "int"),
]
INSTITUTION_COLUMNS = [
    *_REASON,
    *_HANDLE,
    _col("入托日期", "enroll_date", "date"),
    _col("班级类型", "class_type"),
]


def columns_of(recipient: Recipient) -> list[Column]:
    return INSTITUTION_COLUMNS if recipient.is_institution else HEALTH_COLUMNS


def display(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows as the sheet shows them: kinds, sexes and classes as `中文 (code)` or Chinese."""

    def labelled(column: str, labels: dict[str, str]) -> pl.Expr:
        known = {code: f"{label} ({code})" for code, label in labels.items()}
        return pl.col(column).replace(known)

    return rows.with_columns(
        labelled("handle_kind", HANDLE_KINDS),
        pl.col("sex").replace(SEXES),
        pl.col("class_type").replace(CLASSES),
    )


@dataclass(frozen=True)
class Notes:
    """What the `说明` sheet says about one file."""

    recipient: Recipient
    period: str
    period_end: date
    generated_at: str  # already in the reader's time zone
    rows_by_reason: dict[str, int]
    reasons: pl.DataFrame  # Worklists.reasons


def _reasons_of(notes: Notes) -> pl.DataFrame:
    """The reasons a recipient of this type is sent (an unassigned row awaits a centre)."""
    wanted = INSTITUTION if notes.recipient.is_institution else "health_facility"
    return notes.reasons.filter(pl.col("recipient_type") == wanted)


def _kinds_of(recipient: Recipient) -> list[str]:
    institution = "enrollment_no"
    return [k for k in HANDLE_KINDS if (k == institution) == recipient.is_institution]


def notes_rows(notes: Notes) -> list[list[object]]:
    """The `说明` sheet, row by row (a one-cell row is a heading)."""
    r = notes.recipient
    rows: list[list[object]] = [
        [f"{r.name}随访清单"],
        [],
        ["接收单位", f"{r.name}（{r.code}）"],
        ["单位类型", RECIPIENT_TYPES.get(r.type, r.type)],
        ["评估期", notes.period],
        ["参考日 D", notes.period_end],
        ["生成时间", notes.generated_at],
        ["行数", sum(notes.rows_by_reason.values())],
        [],
        ["原因与对应指标"],
        ["原因代码", "原因", "本清单行数", "定义", "对应指标（该行即该指标分母中未计入分子者）"],
    ]
    for reason in _reasons_of(notes).iter_rows(named=True):
        code = reason["indicator_code"]
        indicator = f"{reason['indicator_name_zh'] or code}（{code}）"
        count = notes.rows_by_reason.get(reason["reason"], 0)
        rows.append(
            [reason["reason"], reason["reason_zh"], count, reason["definition_zh"], indicator]
        )
    rows += [
        [],
        ["号码类型"],
        *[[f"{HANDLE_KINDS[kind]} ({kind})", _KIND_NOTES[kind]] for kind in _kinds_of(r)],
        [],
        ["使用须知"],
        ["未查到记录，请核实", _FALSE_POSITIVE],
        ["如何移出清单", _LEAVING],
        ["个人信息保护", _PROTECTION],
    ]
    return rows


_KIND_NOTES = {
    "archive_no": "儿童健康档案编号：本机构建立的最新档案；若为其他机构的档案，见“建档机构代码”。",
    "birth_cert_no": "出生医学证明编号（本机构无该儿童档案时使用）。",
    "id_number": "儿童本人的身份证号（经校验；从不使用母亲等他人的证件号）。",
    "enrollment_no": "托育机构的入托登记号（本机构的入托记录）。",
    "none": "本区数据中没有可供查找的号码：请结合出生日期、性别、社区与相关单位核实。",
}
_FALSE_POSITIVE = (
    "每一行表示本区数据中未查到相应记录，不一定是真的遗漏：儿童可能在本区以外（外区、外地的"
    "医疗卫生机构或托育机构）建档、体检，或已迁出本区，其记录不在本区数据中。请先核实，再随访。"
)
_LEAVING = (
    "相应记录（建档、体检、入托前90天内的体检）录入信息系统并由下一次数据刷新读入后，该行不再"
    "出现在下一次导出的清单中；儿童满3岁、迁出本辖区，或入托记录所在季度结束后，该行同样移出。"
    "每份清单都是当期的全量名单，无需手工销号。"
)
_PROTECTION = (
    "本文件含未成年人敏感个人信息（《个人信息保护法》第二十八条、第三十一条），仅供本单位为履行"
    "国家基本公共卫生服务职责而使用：不得转发、复制或用于其他目的；核实与随访完成后，或收到下一期"
    "清单时，请删除本文件。"
)


Job = tuple[pl.DataFrame, list[Column], Notes]


def workbooks(jobs: list[Job]) -> Iterator[bytes]:
    """`workbook_bytes` of each job, in order; on several processes when there are many rows
    (xlsxwriter spends its time in Python). Rows reach the workers through pipes, never files."""
    workers = min(len(os.sched_getaffinity(0)), len(jobs))
    if workers < 2 or sum(rows.height for rows, _, _ in jobs) < PARALLEL_ROWS:
        yield from (workbook_bytes(*job) for job in jobs)
        return
    # spawn: a forked child would inherit polars' thread pool in an undefined state.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(_workbook_of, jobs)


def _workbook_of(job: Job) -> bytes:
    return workbook_bytes(*job)


def workbook_bytes(rows: pl.DataFrame, columns: list[Column], notes: Notes) -> bytes:
    """The XLSX file of `rows` (already sorted) as bytes."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {**INERT_TEXT, "in_memory": True})  # no temporary file
    header = book.add_format({"bold": True, "bg_color": "#EAF2F8"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    wrapped = book.add_format({"text_wrap": True, "valign": "top"})
    _write_list(book.add_worksheet(LIST), display(rows), columns, header, day)
    _write_notes(book.add_worksheet(NOTES), notes_rows(notes), header, day, wrapped)
    book.close()
    return buffer.getvalue()


def _write_list(sheet, frame: pl.DataFrame, columns: list[Column], header, day) -> None:
    for col, spec in enumerate(columns):
        sheet.write_string(0, col, spec.header, header)
        column = frame[spec.column]
        if spec.kind == "date":
            write = partial(sheet.write_datetime, cell_format=day)
        else:  # an identifier is a string cell, whatever its type in the table
            column = column.cast(pl.String) if spec.kind == "text" else column
            write = sheet.write_string if spec.kind == "text" else sheet.write_number
        for row, value in enumerate(column.to_list(), start=1):
            if value is not None:
                write(row, col, value)
        chars = frame[spec.column].cast(pl.String).str.len_chars().max() or 0
        wide = max(width(spec.header), 2 * chars if spec.kind == "text" else 10)
        sheet.set_column(col, col, min(wide + 2, _MAX_WIDTH))
    sheet.autofilter(0, 0, frame.height, len(columns) - 1)
    sheet.freeze_panes(1, 0)


def _write_notes(sheet, rows: list[list[object]], header, day, wrapped) -> None:
    for i, cells in enumerate(rows):
        for j, value in enumerate(cells):
            if isinstance(value, date):
                sheet.write_datetime(i, j, value, day)
            elif isinstance(value, int):
                sheet.write_number(i, j, value)
            else:
                style = header if len(cells) == 1 or cells[0] == "原因代码" else wrapped
                sheet.write_string(i, j, str(value), style)
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 60)
    sheet.set_column(2, 4, 30)
