"""The street assessment and ranking (contract section 6) as published outside the warehouse.

The marts hold every street's figures; what the report and the exports show is hidden the way
`suppression.py` hides the indicator cells it comes from: a street's value (and whether it
meets its target) where that street's indicator cell is suppressed, its baseline where the
first period's cell is, and the change where either is. In the ranking, a street's count of
targets met is hidden when one of its hidden targets has a known state, and its mean change
when one of its hidden changes entered the mean: either would give the hidden figure back.
"""

from __future__ import annotations

import polars as pl

from pipelines.report.definitions import Indicators
from pipelines.report.formatting import SUPPRESSED, figure, status, target_text

_KEY = ["indicator_code", "street_code", "period"]


def protected_assessment(assessment: pl.DataFrame, protected_values: pl.DataFrame) -> pl.DataFrame:
    """marts.street_assessment with `value_suppressed`, `baseline_suppressed` and
    `change_suppressed`, the hidden figures null. `protected_values` are the suppressed
    indicator values (suppression.suppress)."""
    flags = protected_values.filter(pl.col("scope_level") == "street").select(
        "indicator_code",
        pl.col("scope_code").alias("street_code"),
        "period",
        "value_suppressed",
    )
    first = flags.filter(pl.col("period") == protected_values["period"].min()).select(
        "indicator_code", "street_code", pl.col("value_suppressed").alias("baseline_suppressed")
    )
    out = (
        assessment.join(flags, on=_KEY, how="left")
        .join(first, on=["indicator_code", "street_code"], how="left")
        .with_columns(pl.col("value_suppressed", "baseline_suppressed").fill_null(False))
        .with_columns(change_suppressed=pl.col("value_suppressed") | pl.col("baseline_suppressed"))
    )
    return out.with_columns(
        # Whether a hidden figure would have counted in the ranking (kept for protected_ranking).
        _met_hidden=pl.col("value_suppressed") & pl.col("met").is_not_null(),
        _change_hidden=pl.col("change_suppressed") & pl.col("change").is_not_null(),
        value=_unless("value_suppressed", "value"),
        met=_unless("value_suppressed", "met"),
        baseline_value=_unless("baseline_suppressed", "baseline_value"),
        change=_unless("change_suppressed", "change"),
    )


def protected_ranking(
    ranking: pl.DataFrame, assessment: pl.DataFrame, indicators: Indicators
) -> pl.DataFrame:
    """marts.street_ranking with `targets_met_suppressed` and `mean_change_suppressed`, from
    the protected assessment; the rank stays (an order of streets, not a count of people)."""
    ratio = pl.col("indicator_code").is_in(
        [c for c in indicators.by_code if indicators.is_ratio(c)]
    )
    hidden = assessment.group_by("street_code", "period").agg(
        targets_met_suppressed=pl.col("_met_hidden").any(),
        mean_change_suppressed=(pl.col("_change_hidden") & ratio).any(),
    )
    out = ranking.join(hidden, on=["street_code", "period"], how="left").with_columns(
        pl.col("targets_met_suppressed", "mean_change_suppressed").fill_null(False)
    )
    return out.with_columns(
        targets_met=_unless("targets_met_suppressed", "targets_met"),
        mean_change_pp=_unless("mean_change_suppressed", "mean_change_pp"),
    )


def _unless(flag: str, column: str) -> pl.Expr:
    return pl.when(pl.col(flag)).then(None).otherwise(pl.col(column)).alias(column)


def change_text(change: float | None, ratio: bool, suppressed: bool = False) -> str:
    """A change since the first period: percentage points for ratios, else the figure."""
    if suppressed:
        return SUPPRESSED
    if change is None:
        return "—"
    return f"{change * 100:+.1f}" if ratio else f"{change:+.1f}"


def section(
    assessment: pl.DataFrame | None,
    ranking: pl.DataFrame | None,
    period: str,
    indicators: Indicators,
    comparators: dict[str, str],
) -> dict | None:
    """The ranking of the period and, per street, each target's value, state and change; None
    when the published file has no street tables. `comparators`: target_code -> comparator."""
    if assessment is None or ranking is None:
        return None
    of_period = assessment.filter(pl.col("period") == period)
    rank = indicators.rank()
    targets = (
        of_period.select("target_code", "indicator_code")
        .unique()
        .with_columns(_order=pl.col("indicator_code").replace_strict(rank, default=len(rank)))
        .sort("_order", "target_code")
    )
    columns = [
        {
            "code": code,
            "name": indicators.name(indicator),
            "target": target_text(
                comparators.get(code),
                of_period.filter(pl.col("target_code") == code)["target"].max(),
                indicators.is_ratio(indicator),
            ),
        }
        for code, indicator, _ in targets.iter_rows()
    ]
    cells = {(r["street_code"], r["target_code"]): r for r in of_period.iter_rows(named=True)}
    streets = []
    ranked = ranking.filter(pl.col("period") == period).sort("rank")
    for r in ranked.iter_rows(named=True):
        row = []
        for column in columns:
            cell = cells.get((r["street_code"], column["code"]))
            row.append(_cell(cell, indicators) if cell else {"text": "不适用", "cls": "nodata"})
        streets.append(
            {
                "rank": str(r["rank"]),
                "name": r["street_name"] or r["street_code"],
                "applicable": str(r["targets_applicable"]),
                "met": SUPPRESSED if r["targets_met_suppressed"] else str(r["targets_met"]),
                "mean_change": change_text(
                    None if r["mean_change_pp"] is None else r["mean_change_pp"] / 100,
                    True,
                    r["mean_change_suppressed"],
                ),
                "cells": row,
            }
        )
    first = assessment["period"].min()
    return {"first_period": first, "columns": columns, "streets": streets}


def _cell(r: dict, indicators: Indicators) -> dict:
    ratio = indicators.is_ratio(r["indicator_code"])
    value = figure(r["value"], ratio, r["value_suppressed"])
    change = change_text(r["change"], ratio, r["change_suppressed"])
    return {"text": f"{value}（{change}）", "cls": status(r["met"], r["value_suppressed"])[1]}
