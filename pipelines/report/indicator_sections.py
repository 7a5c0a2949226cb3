"""The report's indicator sections (scorecard, three-in-one, trends, streets, the follow-up
backlog of each indicator's gap) as plain data for the templates: texts, rows of texts and
chart markup, from the suppressed tables only."""

from __future__ import annotations

import polars as pl
from markupsafe import Markup

from pipelines.report import charts
from pipelines.report.definitions import Indicators
from pipelines.report.formatting import (
    FOLLOW_UP_REASONS,
    INSTITUTION_REASON,
    SCOPE_LEVELS,
    STATES,
    SUPPRESSED,
    count,
    figure,
    status,
    target_text,
)

FILING = "record_filing_rate"
_QUARTERS = "一二三四"


def first_quarter_zh(values: pl.DataFrame) -> str:
    """The first period as the section title says it: 2022Q4 -> 2022年第四季度."""
    first = values["period"].min()
    return f"{first[:4]}年第{_QUARTERS[int(first[-1]) - 1]}季度"


def scorecard_section(scorecard: pl.DataFrame, indicators: Indicators) -> dict:
    """Targets in the plan's order of their indicator, with the count of each state."""
    rank = indicators.rank()
    ranked = scorecard.with_columns(
        _order=pl.col("indicator_code").replace_strict(rank, default=len(rank))
    )
    rows = []
    for r in ranked.sort("_order", "target_code").iter_rows(named=True):
        code, ratio = r["indicator_code"], indicators.is_ratio(r["indicator_code"])
        label, cls = status(r["met"], r["value_suppressed"])
        rows.append(
            {
                "target": r["target_zh"] or r["target_code"],
                "indicator": indicators.name(code),
                "target_value": target_text(r["comparator"], r["target"], ratio),
                "value": figure(r["value"], ratio, r["value_suppressed"]),
                "label": label,
                "cls": cls,
            }
        )
    classes = [row["cls"] for row in rows]
    tally = [(classes.count(cls), label) for cls, label in STATES.items() if cls in classes]
    return {"rows": rows, "tally": tally}


def three_in_one_section(
    scorecard: pl.DataFrame, values: pl.DataFrame, period: str, indicators: Indicators
) -> dict:
    """The three-in-one target and the filing rate of every street (served or not)."""
    ratio = indicators.is_ratio(FILING)
    targets = [
        {
            "text": r["target_zh"] or "",
            "value": figure(r["value"], ratio, r["value_suppressed"]),
            "target": target_text(r["comparator"], r["target"], ratio),
            "label": status(r["met"], r["value_suppressed"])[0],
        }
        for r in scorecard.filter(pl.col("indicator_code") == FILING).iter_rows(named=True)
    ]
    streets = values.filter(
        (pl.col("indicator_code") == FILING)
        & (pl.col("period") == period)
        & (pl.col("scope_level") == "street")
    ).sort("scope_code")
    rows = [
        [
            r["scope_name"],
            "是" if r["target"] is not None else "否",
            count(r["numerator"], r["numerator_suppressed"]),
            count(r["denominator"], r["denominator_suppressed"]),
            figure(r["value"], ratio, r["value_suppressed"]),
        ]
        for r in streets.iter_rows(named=True)
    ]
    return {"targets": targets, "rows": rows}


def _target_texts(scorecard: pl.DataFrame, indicators: Indicators) -> dict[str, str]:
    """The plan's target texts of each indicator (the scorecard's), else the indicator's own."""
    plan = (
        scorecard.sort("target_code")
        .unique(["indicator_code", "target_zh"], maintain_order=True)
        .filter(pl.col("target_zh").is_not_null())
        .group_by("indicator_code", maintain_order=True)
        .agg("target_zh")
    )
    texts = {code: "；".join(zh) for code, zh in plan.iter_rows()}
    return {code: texts.get(code, d.target_zh) for code, d in indicators.by_code.items()}


def cards(scorecard: pl.DataFrame, indicators: Indicators) -> dict[str, dict]:
    targets = _target_texts(scorecard, indicators)
    return {
        code: {
            "code": code,
            "name": d.name_zh,
            "numerator": d.numerator_zh,
            "denominator": d.denominator_zh,
            "sources": d.sources_zh,
            "target": targets[code],
        }
        for code, d in indicators.by_code.items()
    }


def _no_card(code: str) -> dict:
    return {"code": code, "name": None}


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


def trend_figures(
    values: pl.DataFrame, scorecard: pl.DataFrame, indicators: Indicators, cards: dict[str, dict]
) -> list[dict]:
    """One chart of the district value per quarter for every indicator, with its card and a
    note naming the quarters its line skips."""
    figures = []
    for i, code in enumerate(indicators.ordered(values["indicator_code"].unique())):
        district = values.filter(
            (pl.col("indicator_code") == code) & (pl.col("scope_level") == "district")
        ).sort("period")
        chart = charts.trend(
            district,
            _indicator_target(scorecard, values, code),
            indicators.is_ratio(code),
            f"trend-chart-{i}",
        )
        figures.append(
            {
                "id": f"trend-{i}",
                "title": f"{indicators.name(code)} 季度趋势",
                "chart": Markup(chart),
                "card": cards.get(code) or _no_card(code),
                "note": _gap_note(district),
            }
        )
    return figures


def _gap_note(district: pl.DataFrame) -> str | None:
    """Which quarters the district line skips, and why."""
    hidden = district.filter(pl.col("value_suppressed"))["period"].to_list()
    empty = district.filter(~pl.col("value_suppressed") & pl.col("value").is_null())
    notes = []
    if hidden:
        notes.append(f"{'、'.join(hidden)} 的全区数值{SUPPRESSED}（小单元，见方法说明）")
    if not empty.is_empty():
        notes.append(f"{'、'.join(empty['period'].to_list())} 无数据")
    return f"注: {'；'.join(notes)}，折线在这些季度中断。" if notes else None


def street_figures(
    values: pl.DataFrame, period: str, indicators: Indicators, cards: dict[str, dict]
) -> list[dict]:
    """For each indicator with a denominator: a bar per street, its card and its table."""
    latest = values.filter(pl.col("period") == period)
    # Ratio indicators are those with a denominator (counts have none).
    has_denominator = pl.col("denominator").is_not_null() | pl.col("denominator_suppressed")
    ratios = set(values.filter(has_denominator)["indicator_code"])
    codes = indicators.ordered(values["indicator_code"].unique())
    figures = []
    for i, code in enumerate(c for c in codes if c in ratios):
        rows = latest.filter(pl.col("indicator_code") == code)
        in_streets = rows.filter(pl.col("scope_level") == "street")
        if in_streets.is_empty():
            continue
        district_rows = rows.filter(pl.col("scope_level") == "district").to_dicts()
        district = district_rows[0] if district_rows else None
        target = float(district["target"]) if district and district["target"] is not None else None
        ratio = indicators.is_ratio(code)
        chart = charts.street_comparison(in_streets, district, target, ratio, f"street-chart-{i}")
        hidden = in_streets.filter(pl.col("value_suppressed")).sort("scope_code")
        figures.append(
            {
                "id": f"street-{i}",
                "title": f"{indicators.name(code)} 街道对比（{period}）",
                "chart": Markup(chart),
                "card": cards.get(code) or _no_card(code),
                "note": (
                    f"注: {'、'.join(hidden['scope_name'].to_list())} 的数值{SUPPRESSED}"
                    "（小单元），不画柱。"
                    if not hidden.is_empty()
                    else None
                ),
                "rows": [
                    [
                        f"{SCOPE_LEVELS.get(r['scope_level'], '')} {r['scope_name']}",
                        count(r["numerator"], r["numerator_suppressed"]),
                        count(r["denominator"], r["denominator_suppressed"]),
                        figure(r["value"], ratio, r["value_suppressed"]),
                    ]
                    for r in rows.sort("scope_level", "scope_code").iter_rows(named=True)
                ],
            }
        )
    return figures


def district_totals(protected: pl.DataFrame) -> dict[tuple[str, str], str]:
    """(period, reason) -> the district gap as the suppressed indicator values show it."""
    district = protected.filter(pl.col("scope_level") == "district")
    out = {}
    for reason, (_, indicator) in FOLLOW_UP_REASONS.items():
        for r in district.filter(pl.col("indicator_code") == indicator).iter_rows(named=True):
            hidden = r["numerator_suppressed"] or r["denominator_suppressed"]
            gap = None if hidden else r["denominator"] - r["numerator"]
            out[(r["period"], reason)] = count(gap, hidden)
    return out


def _counts(rows: pl.DataFrame) -> dict[tuple, str]:
    return {
        (r["recipient_code"], r["period"], r["reason"]): count(
            r["children"], r["children_suppressed"]
        )
        for r in rows.iter_rows(named=True)
    }


def backlog_section(
    backlog: pl.DataFrame | None, protected: pl.DataFrame, period: str
) -> dict | None:
    """The report's backlog section as texts: per centre the latest period's count of each
    health reason and each reason's trend, the institutions' entry-check backlog, the
    unassigned; None when the published file has no backlog."""
    if backlog is None:
        return None
    totals = district_totals(protected)
    cells = _counts(backlog)
    periods = sorted(backlog["period"].unique().to_list())
    health = [r for r in FOLLOW_UP_REASONS if r != INSTITUTION_REASON]
    centres = _recipients(backlog, "health_facility", health)
    institutions = _recipients(
        backlog.filter(
            (pl.col("period") == period)
            & ((pl.col("children") != 0) | pl.col("children_suppressed"))
        ),
        "institution",
        [INSTITUTION_REASON],
    )
    district = "全区（各接收方合计）"
    return {
        "period": period,
        "headers": ["医疗卫生机构", *(FOLLOW_UP_REASONS[r][0] for r in health)],
        "rows": [
            [name, *(cells.get((code, period, r), "0") for r in health)] for code, name in centres
        ]
        + [[district, *(totals.get((period, r), "—") for r in health)]],
        "trends": [
            {
                "reason": FOLLOW_UP_REASONS[r][0],
                "headers": ["医疗卫生机构", *periods],
                "rows": [
                    [name, *(cells.get((code, p, r), "0") for p in periods)]
                    for code, name in centres
                ]
                + [[district, *(totals.get((p, r), "—") for p in periods)]],
            }
            for r in health
        ],
        "institutions": [
            [name, code, cells.get((code, period, INSTITUTION_REASON), "0")]
            for code, name in institutions
        ],
        "institution_total": totals.get((period, INSTITUTION_REASON), "—"),
        "unassigned": [
            [
                FOLLOW_UP_REASONS.get(r["reason"], (r["reason"],))[0],
                count(r["children"], r["children_suppressed"]),
            ]
            for r in backlog.filter(
                (pl.col("period") == period)
                & (pl.col("recipient_type") == "unassigned")
                & ((pl.col("children") != 0) | pl.col("children_suppressed"))
            )
            .sort("reason")
            .iter_rows(named=True)
        ],
    }


def _recipients(backlog: pl.DataFrame, kind: str, reasons: list[str]) -> list[tuple[str, str]]:
    """(code, name) of the recipients of a type with rows of these reasons, by code."""
    rows = backlog.filter((pl.col("recipient_type") == kind) & pl.col("reason").is_in(reasons))
    named = (
        rows.group_by("recipient_code").agg(pl.col("recipient_name").max()).sort("recipient_code")
    )
    return [(code, name or code) for code, name in named.iter_rows()]
