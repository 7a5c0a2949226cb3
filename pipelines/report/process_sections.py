"""The report's sections about the data process (coverage, quality checks, submissions) as
plain data for the templates: rows of texts, None where the published file lacks the table."""

from __future__ import annotations

import polars as pl

from pipelines.ingest.sources import SOURCES
from pipelines.report.formatting import DEFAULT_TIMEZONE, local_time
from pipelines.report.published import Published
from pipelines.report.revisions import revision_rows, revisions
from pipelines.report.submissions import (
    REVISION_HEADERS,
    VINTAGE_HEADERS,
    vintage_rows,
)

_LINKAGE_HEADERS = (
    ("source", "来源"),
    ("record", "记录数"),
    ("id_number", "身份证号关联"),
    ("birth_cert", "出生医学证明关联"),
    ("archive", "档案编号关联"),
    ("demograph", "人口学信息关联"),
    ("ambiguous", "不确定"),
    ("unlinked", "未关联"),
    ("conflict", "冲突"),
)
_REASONS = {
    "missing_required_column": "缺少必需列",
    "missing_required_value": "必填值缺失",
    "unparseable_value": "值无法解析",
    "invalid_code": "不在代码表中",
    "date_before_birth": "日期早于出生日期",
    "date_in_future": "日期晚于今天",
    "out_of_range": "超出生理范围",
    "unlinkable": "无法关联到儿童",
    "malformed_row": "行格式错误",
    "unreadable_file": "文件无法读取",
    "no_recognisable_header": "无可识别表头",
}
_CHANGE_LABELS = {"new": "新出现的失败", "persisting": "持续失败", "resolved": "已解决"}
_AUDIT_COUNTS = ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded")


def _reason_label(code: str) -> str:
    return f"{_REASONS[code]}（{code}）" if code in _REASONS else code


def _source_label(name: str) -> str:
    return SOURCES[name].label_zh if name in SOURCES else name


def coverage_section(data: Published) -> dict:
    """Files and rows per source, quarantine reasons and linkage quality (counts of records)."""
    sources = None
    if data.file_audit is not None:
        per_source = (
            data.file_audit.group_by("source")
            .agg(
                files=pl.len(),
                rejected=(pl.col("status") == "rejected").sum(),
                **{c: pl.col(c).sum() for c in _AUDIT_COUNTS},
            )
            .sort("source")
        )
        sources = [[_source_label(r[0]), *(str(v) for v in r[1:])] for r in per_source.iter_rows()]
    reasons = None
    if data.quarantine is not None and not data.quarantine.is_empty():
        by_reason = (
            data.quarantine.group_by("source", "reason_code").len().sort("source", "reason_code")
        )
        reasons = [
            [_source_label(s), _reason_label(c), str(n)] for s, c, n in by_reason.iter_rows()
        ]
    linkage = None
    if data.linkage_quality is not None:
        linkage = {
            "headers": [
                next((zh for key, zh in _LINKAGE_HEADERS if key in col), col)
                for col in data.linkage_quality.columns
            ],
            "rows": [
                [_source_label(str(v)) if j == 0 else str(v) for j, v in enumerate(r)]
                for r in data.linkage_quality.iter_rows()
            ],
        }
    return {"sources": sources, "reasons": reasons, "linkage": linkage}


def quality_section(checks: pl.DataFrame | None, timezone: str = DEFAULT_TIMEZONE) -> dict | None:
    """The latest result of every check and those that changed state; None without history."""
    if checks is None or checks.is_empty():
        return None
    # A run may have evaluated only some datasets: each check's own latest result counts.
    last = checks.sort("run_started_at", "run_id").group_by("dataset", "check_name").last()
    listed = last.filter(pl.col("status_change").is_in(list(_CHANGE_LABELS)))
    return {
        "last_run": local_time(checks["run_started_at"].max(), timezone),
        "total": last.height,
        "failing": last.filter(~pl.col("passed")).height,
        "rows": [
            [
                _CHANGE_LABELS[r["status_change"]],
                r["check_name"],
                str(r["dataset"]),
                "阻断" if r["severity"] == "blocking" else "警告",
                str(r["observed_value"] if r["observed_value"] is not None else ""),
            ]
            for r in listed.sort("status_change", "check_name").iter_rows(named=True)
        ],
    }


def submission_section(
    data: Published, vintages: dict[str, pl.DataFrame], k: int, timezone: str = DEFAULT_TIMEZONE
) -> dict:
    """Every version of each submitted quarter and every figure revised since."""
    return {
        "vintages": vintage_rows(vintages, timezone),
        "vintage_headers": VINTAGE_HEADERS,
        "revisions": revision_rows(data, revisions(data, vintages, k)) if vintages else [],
        "revision_headers": REVISION_HEADERS,
    }
