"""The evaluators' report: one self-contained HTML page in Chinese (plotly.js inlined once)."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from pathlib import Path

import plotly.offline
import polars as pl

from pipelines.config import settings
from pipelines.ingest.sources import SOURCES
from pipelines.report import charts
from pipelines.report.definitions import Definition, load_definitions
from pipelines.report.formatting import SCOPE_LEVELS, count, figure, status, target_text
from pipelines.report.published import (
    Published,
    protected_scorecard,
    protected_values,
    read_published,
)
from pipelines.report.submissions import latest_vintages, read_vintages, revisions, submissions_path

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",SimHei,sans-serif;
  margin:24px auto;max-width:1180px;color:#222;line-height:1.5}
h1{font-size:24px}h2{border-bottom:2px solid #2e86c1;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;margin:8px 0 16px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#eaf2f8}td.num{text-align:right}
.badge{display:inline-block;padding:1px 10px;border-radius:10px;font-weight:bold;color:#fff}
.met .badge{background:#1e8449}.unmet .badge{background:#c0392b}
.suppressed .badge,.nodata .badge{background:#888}
tr.unmet td{background:#fdedec}tr.met td{background:#eafaf1}
.figure{display:flex;gap:16px;align-items:flex-start;margin:12px 0}
.figure>div{flex:1 1 auto;min-width:0}
.definition{order:2;flex:0 0 280px;font-size:13px;background:#f7f9fa;border-left:4px solid #2e86c1;
  padding:8px 12px;margin:0}
.definition dt{font-weight:bold}.definition dd{margin:0 0 6px 0}
.note{color:#555;font-size:13px}.kpi{font-size:20px;font-weight:bold}
"""


def write_report(out: Path, published: Path | None = None) -> Path:
    """Write the report of the published file (default `settings().warehouse_path`) to `out`."""
    data = read_published(published)
    vintages = read_vintages(submissions_path(published))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data, vintages, settings().small_cell_k), encoding="utf-8")
    return out


def render(data: Published, vintages: dict[str, pl.DataFrame], k: int) -> str:
    definitions = load_definitions()
    values = protected_values(data.indicator_values, k)
    scorecard = protected_scorecard(data.scorecard, data.indicator_values, k)
    period = data.as_of_period
    district_name = settings().district_name
    body = [
        f"<h1>{escape(district_name)}普惠托育服务试点 医育结合评估报告</h1>",
        f'<p>评估期: <b id="as-of-period">{period}</b>（参考日 {_period_end(values, period)}）；'
        f"生成时间 {datetime.now():%Y-%m-%d %H:%M}；数据来源: 发布库 {escape(data.path.name)}</p>",
        _scorecard_section(scorecard.filter(pl.col("period") == period), definitions),
        _three_in_one_section(scorecard.filter(pl.col("period") == period), values, period),
        _trend_section(values, scorecard, definitions),
        _street_section(values, period, definitions),
        _coverage_section(data),
        _quality_section(data.check_results),
        _submission_section(data, vintages, k, definitions),
        _method_section(k),
    ]
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(district_name)}医育结合评估报告 {period}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script></head>'
        f"<body>{''.join(body)}</body></html>"
    )


def _period_end(values: pl.DataFrame, period: str) -> str:
    return str(values.filter(pl.col("period") == period)["period_end"].max())


def _table(
    headers: list[str],
    rows: list[list[str]],
    row_classes: list[str] | None = None,
    table_id: str = "",
) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    classes = row_classes or [""] * len(rows)
    body = "".join(
        f'<tr class="{cls}">' + "".join(_cell(cell) for cell in row) + "</tr>"
        for row, cls in zip(rows, classes, strict=True)
    )
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_NUMBER = re.compile(r"^[≥≤<>=]?-?[\d.]+%?$|^已抑制$|^—$")


def _cell(content: str) -> str:
    # Figures align right, text left.
    return f'<td class="num">{content}</td>' if _NUMBER.match(content) else f"<td>{content}</td>"


def _badge(met: bool | None, suppressed: bool) -> tuple[str, str]:
    label, cls = status(met, suppressed)
    return f'<span class="badge">{label}</span>', cls


def _scorecard_section(scorecard: pl.DataFrame, definitions: dict[str, Definition]) -> str:
    rows, classes = [], []
    order = {code: i for i, code in enumerate(definitions)}
    ranked = scorecard.with_columns(
        _order=pl.col("indicator_code").replace_strict(order, default=len(order))
    )
    for r in ranked.sort("_order", "target_code").iter_rows(named=True):
        badge, cls = _badge(r["met"], r["value_suppressed"])
        code = r["indicator_code"]
        rows.append(
            [
                escape(r["target_zh"] or r["target_code"]),
                escape(definitions[code].name_zh if code in definitions else code),
                target_text(code, r["comparator"], r["target"]),
                figure(code, r["value"], r["value_suppressed"]),
                badge,
            ]
        )
        classes.append(cls)
    tally = "，".join(
        f"{classes.count(cls)} 项{label}"
        for cls, label in (
            ("met", "达标"),
            ("unmet", "未达标"),
            ("suppressed", "已抑制"),
            ("nodata", "无数据"),
        )
        if cls in classes
    )
    return (
        '<h2 id="scorecard">一、试点目标达成情况</h2>'
        f'<p class="kpi" id="tally">共 {scorecard.height} 项目标: {tally}</p>'
        + _table(["目标", "指标", "目标值", "当前值", "状态"], rows, classes, "scorecard-table")
    )


def _three_in_one_section(scorecard: pl.DataFrame, values: pl.DataFrame, period: str) -> str:
    target = scorecard.filter(pl.col("indicator_code") == "record_filing_rate")
    streets = values.filter(
        (pl.col("indicator_code") == "record_filing_rate")
        & (pl.col("period") == period)
        & (pl.col("scope_level") == "street")
    ).sort("scope_code")
    parts = ['<h2 id="three-in-one">二、三位一体中心服务辖区建档率</h2>']
    if target.is_empty():
        parts.append('<p class="note">本期记分卡中没有三位一体辖区建档率目标。</p>')
    for r in target.iter_rows(named=True):
        badge, _ = _badge(r["met"], r["value_suppressed"])
        parts.append(
            f'<p class="kpi">{escape(r["target_zh"] or "")}: '
            f"{figure('record_filing_rate', r['value'], r['value_suppressed'])}"
            f"（目标 {target_text('record_filing_rate', r['comparator'], r['target'])}）{badge}</p>"
        )
    rows = [
        [
            escape(r["scope_name"]),
            "是" if r["target"] is not None else "否",
            count(r["numerator"], r["numerator_suppressed"]),
            count(r["denominator"], r["denominator_suppressed"]),
            figure("record_filing_rate", r["value"], r["value_suppressed"]),
        ]
        for r in streets.iter_rows(named=True)
    ]
    parts.append(
        '<p class="note">取三位一体儿童健康管理中心服务街道中最低的街道建档率。各街道建档率:</p>'
        + _table(
            ["街道", "三位一体服务", "已建档", "应建档", "建档率"], rows, table_id="filing-table"
        )
    )
    return "".join(parts)


def _values_table(rows: pl.DataFrame, code: str) -> str:
    return _table(
        ["范围", "分子", "分母", "数值"],
        [
            [
                escape(f"{SCOPE_LEVELS.get(r['scope_level'], '')} {r['scope_name']}"),
                count(r["numerator"], r["numerator_suppressed"]),
                count(r["denominator"], r["denominator_suppressed"]),
                figure(code, r["value"], r["value_suppressed"]),
            ]
            for r in rows.iter_rows(named=True)
        ],
    )


def _definition_card(definition: Definition | None, code: str) -> str:
    if definition is None:
        return f'<dl class="definition"><dt>指标</dt><dd>{escape(code)}</dd></dl>'
    sources = "、".join(SOURCES[s].label_zh for s in definition.sources if s in SOURCES)
    return (
        '<dl class="definition">'
        f"<dt>指标</dt><dd>{escape(definition.name_zh)}（{escape(code)}）</dd>"
        f"<dt>分子</dt><dd>{escape(definition.numerator_zh)}</dd>"
        f"<dt>分母</dt><dd>{escape(definition.denominator_zh)}</dd>"
        f"<dt>数据来源</dt><dd>{escape(sources)}</dd>"
        f"<dt>试点目标</dt><dd>{escape(definition.target_zh)}</dd></dl>"
    )


def _figure_with_definition(chart: str, definition: Definition | None, code: str) -> str:
    # The card comes first in the page (shown on the right by CSS): plotly sizes a chart when
    # its script runs, so the card must already take its place by then.
    return f'<div class="figure">{_definition_card(definition, code)}{chart}</div>'


def _indicator_target(scorecard: pl.DataFrame, values: pl.DataFrame, code: str) -> float | None:
    """The district target of an indicator (the indicator rows carry it; else the scorecard)."""
    district = values.filter(
        (pl.col("indicator_code") == code) & (pl.col("scope_level") == "district")
    )
    targets = district["target"].drop_nulls()
    if targets.len():
        return float(targets[-1])
    from_card = scorecard.filter(pl.col("indicator_code") == code)["target"].drop_nulls()
    return float(from_card[-1]) if from_card.len() else None


def _codes(values: pl.DataFrame, definitions: dict[str, Definition]) -> list[str]:
    present = set(values["indicator_code"].unique())
    return [c for c in definitions if c in present] + sorted(present - set(definitions))


def _trend_section(
    values: pl.DataFrame, scorecard: pl.DataFrame, definitions: dict[str, Definition]
) -> str:
    parts = ['<h2 id="trends">三、指标季度趋势（2022年第四季度起）</h2>']
    for i, code in enumerate(_codes(values, definitions)):
        district = values.filter(
            (pl.col("indicator_code") == code) & (pl.col("scope_level") == "district")
        )
        name = definitions[code].name_zh if code in definitions else code
        fig = charts.trend(code, name, district, _indicator_target(scorecard, values, code))
        parts.append(
            _figure_with_definition(charts.to_div(fig, f"trend-{i}"), definitions.get(code), code)
        )
    return "".join(parts)


def _street_section(values: pl.DataFrame, period: str, definitions: dict[str, Definition]) -> str:
    parts = [f'<h2 id="streets">四、街道对比（{period}）</h2>']
    latest = values.filter(pl.col("period") == period)
    # Ratio indicators are those with a denominator (counts have none).
    has_denominator = pl.col("denominator").is_not_null() | pl.col("denominator_suppressed")
    ratios = set(values.filter(has_denominator)["indicator_code"])
    for i, code in enumerate(c for c in _codes(values, definitions) if c in ratios):
        rows = latest.filter(pl.col("indicator_code") == code)
        streets = rows.filter(pl.col("scope_level") == "street")
        if streets.is_empty():
            continue
        district_rows = rows.filter(pl.col("scope_level") == "district").to_dicts()
        district = district_rows[0] if district_rows else None
        target = float(district["target"]) if district and district["target"] is not None else None
        name = definitions[code].name_zh if code in definitions else code
        fig = charts.street_comparison(code, name, streets, district, target)
        parts.append(
            _figure_with_definition(charts.to_div(fig, f"street-{i}"), definitions.get(code), code)
            + _values_table(rows.sort("scope_level", "scope_code"), code)
        )
    return "".join(parts)


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
}


def _reason_label(code: str) -> str:
    return f"{_REASONS[code]}（{code}）" if code in _REASONS else code


def _source_label(name: str) -> str:
    return SOURCES[name].label_zh if name in SOURCES else name


def _coverage_section(data: Published) -> str:
    parts = ['<h2 id="coverage">五、数据覆盖与关联质量</h2>']
    if data.file_audit is None:
        parts.append('<p class="note">发布库中没有文件审计表（audit.file_audit）。</p>')
    else:
        per_source = (
            data.file_audit.group_by("source")
            .agg(
                files=pl.len(),
                rejected=(pl.col("status") == "rejected").sum(),
                **{
                    c: pl.col(c).sum()
                    for c in ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded")
                },
            )
            .sort("source")
        )
        parts.append(
            "<h3>文件与行数（按处理结果）</h3>"
            + _table(
                ["来源", "文件数", "拒收文件", "读取行", "入库行", "隔离行", "被覆盖行"],
                [
                    [escape(_source_label(r[0])), *(str(v) for v in r[1:])]
                    for r in per_source.iter_rows()
                ],
                table_id="coverage-table",
            )
        )
    if data.quarantine is not None and not data.quarantine.is_empty():
        reasons = (
            data.quarantine.group_by("source", "reason_code").len().sort("source", "reason_code")
        )
        parts.append(
            "<h3>隔离原因</h3>"
            + _table(
                ["来源", "原因", "行数"],
                [
                    [escape(_source_label(s)), escape(_reason_label(c)), str(n)]
                    for s, c, n in reasons.iter_rows()
                ],
                table_id="quarantine-table",
            )
        )
    if data.linkage_quality is None:
        parts.append('<p class="note">发布库中没有关联质量表（marts.linkage_quality）。</p>')
    else:
        headers = [
            next((zh for key, zh in _LINKAGE_HEADERS if key in col), col)
            for col in data.linkage_quality.columns
        ]
        parts.append(
            "<h3>儿童身份关联质量</h3>"
            + _table(
                headers,
                [
                    [
                        escape(_source_label(str(v))) if j == 0 else escape(str(v))
                        for j, v in enumerate(r)
                    ]
                    for r in data.linkage_quality.iter_rows()
                ],
                table_id="linkage-table",
            )
        )
    parts.append(
        '<p class="note">以上为记录/文件计数（数据处理质量），'
        "不是按人群的统计单元，不做小单元抑制。</p>"
    )
    return "".join(parts)


_CHANGE_LABELS = {"new": "新出现的失败", "persisting": "持续失败", "resolved": "已解决"}


def _quality_section(checks: pl.DataFrame | None) -> str:
    parts = ['<h2 id="quality">六、数据质量检查</h2>']
    if checks is None or checks.is_empty():
        parts.append(
            '<p class="note">发布库中没有数据质量检查历史（quality.check_results），本节从略。</p>'
        )
        return "".join(parts)
    # The latest result of every check (a run may have evaluated only some datasets).
    last = checks.sort("run_started_at", "run_id").group_by("dataset", "check_name").last()
    failing = last.filter(~pl.col("passed")).height
    parts.append(
        f"<p>最近一次检查 {checks['run_started_at'].max():%Y-%m-%d %H:%M}；"
        f"各项检查的最新结果: 共 {last.height} 项，未通过 {failing} 项。</p>"
    )
    listed = last.filter(pl.col("status_change").is_in(list(_CHANGE_LABELS)))
    rows = [
        [
            escape(_CHANGE_LABELS[r["status_change"]]),
            escape(r["check_name"]),
            escape(str(r["dataset"])),
            "阻断" if r["severity"] == "blocking" else "警告",
            escape(str(r["observed_value"] if r["observed_value"] is not None else "")),
        ]
        for r in listed.sort("status_change", "check_name").iter_rows(named=True)
    ]
    parts.append(
        _table(["变化", "检查", "数据集", "级别", "观测值"], rows, table_id="quality-table")
        if rows
        else '<p class="note">没有未通过或新近解决的检查。</p>'
    )
    return "".join(parts)


def _submission_section(
    data: Published, vintages: dict[str, pl.DataFrame], k: int, definitions: dict[str, Definition]
) -> str:
    parts = ['<h2 id="submissions">七、季度报送与修订</h2>']
    latest = latest_vintages(vintages)
    if latest.is_empty():
        parts.append(
            '<p class="note">尚无冻结的季度报送'
            "（使用 <code>yiyu submit --period 2023Q2</code> 报送）。</p>"
        )
        return "".join(parts)
    parts.append(
        _table(
            ["季度", "版本", "报送时间", "报送时参考日"],
            [
                [
                    r["period"],
                    str(r["version"]),
                    f"{r['submitted_at']:%Y-%m-%d %H:%M}",
                    str(r["period_end"]),
                ]
                for r in latest.iter_rows(named=True)
            ],
        )
    )
    revised = revisions(data, vintages, k)
    if revised.is_empty():
        parts.append('<p class="note">报送后没有任何已报送数字被修订。</p>')
        return "".join(parts)
    rows = [
        [
            r["period"],
            escape(
                definitions[r["indicator_code"]].name_zh
                if r["indicator_code"] in definitions
                else r["indicator_code"]
            ),
            escape(f"{SCOPE_LEVELS.get(r['scope_level'], '')} {r['scope_name'] or ''}"),
            figure(r["indicator_code"], r["submitted_value"], bool(r["submitted_suppressed"])),
            figure(r["indicator_code"], r["current_value"], bool(r["current_suppressed"])),
            escape(r["reason"]),
        ]
        for r in revised.iter_rows(named=True)
    ]
    parts.append(
        "<h3>报送后修订的数字</h3>"
        + _table(
            ["季度", "指标", "范围", "报送值", "当前值", "原因"], rows, table_id="revisions-table"
        )
    )
    return "".join(parts)


def _method_section(k: int) -> str:
    return (
        '<h2 id="method">八、方法说明：小单元抑制</h2>'
        f"<p>涉及人数的指标（儿童、从业人员、调查问卷）中，任何 1 至 {k - 1} 之间的人数都不公布，"
        "也不能由同一行的其他数字（比率×分母、分母−分子）或由全区合计减去其他街道推算出来。"
        f"方法：分子、分母或二者之差在 1–{k - 1} 之间的单元格被抑制（差值过小时抑制分子）；"
        "同一指标、同一季度中，若某一度量只有一个街道被抑制，或全区减去已公布街道之差在"
        f" 1–{k - 1} 之间，则再抑制最小的非零街道单元格（无可抑制时抑制全区单元格），"
        "反复直至不再变化；"
        "分子或分母被抑制的行，其比率与达标判断也一并抑制。被抑制的单元格标记为“已抑制”。"
        "托位数、机构数、街道数等非人数指标不抑制。社区级数据不对外公布。</p>"
    )
