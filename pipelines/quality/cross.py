"""Cross-source checks: the metric tables the dbt project builds (models/quality, schema
`qa`, one model `qa_cross_source__<metric>` per metric), validated by GE with
`expectations/cross_source.json`.

Each expectation there names its metric in meta `metric`; the metric tables hold aggregates
only, so an observed value may quote them whole.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from pipelines.quality.exact import column_types
from pipelines.quality.ge import RuleResult, validate
from pipelines.quality.suites import CROSS_SOURCE, CheckOutcome, Suite

# The metrics the dbt project computes, in the order they are checked.
METRICS = (
    "linkage_by_source",
    "enrolled_without_archive",
    "attribute_conflicts",
    "enrollments_unknown_institution",
)
# Schema of the metric models (dbt_project.yml, models/quality).
METRIC_SCHEMA = "qa"


def metric_model(metric: str) -> str:
    """The dbt model (and table name) of a metric."""
    return f"qa_cross_source__{metric}"


def metric_table(metric: str) -> str:
    return f"{METRIC_SCHEMA}.{metric_model(metric)}"


def _describe(frame: pd.DataFrame) -> str:
    """Every row of a (small, aggregate) metric frame, e.g. `births: records=9, ...`."""

    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    rows = []
    for row in frame.to_dict("records"):
        label = f"{row.pop('source')}: " if "source" in row else ""
        rows.append(label + ", ".join(f"{k}={cell(v)}" for k, v in row.items()))
    return "; ".join(rows) or "no rows"


def validate_cross_source(con: duckdb.DuckDBPyConnection, suite: Suite) -> list[CheckOutcome]:
    unknown = {e.meta.get("metric") for e in suite.expectations} - set(METRICS)
    if unknown:
        raise ValueError(f"cross_source suite names unknown metrics: {sorted(map(str, unknown))}")
    outcomes = []
    for metric in METRICS:
        expectations = [e for e in suite.expectations if e.meta.get("metric") == metric]
        if not expectations:
            continue
        where = f"aggregate {metric} over whole tables"
        table = metric_table(metric)
        if not column_types(con, table):
            outcomes += [
                CheckOutcome.of(e, CROSS_SOURCE, False, f"table missing: {[table]}", where)
                for e in expectations
            ]
            continue
        frame = con.execute(f"SELECT * FROM {table} ORDER BY ALL").df()
        results = validate(frame, f"{CROSS_SOURCE}_{metric}", expectations)
        observed = _describe(frame)
        outcomes += [
            CheckOutcome.of(e, CROSS_SOURCE, r.success, _observed(r, observed), where)
            for e, r in zip(expectations, results, strict=True)
        ]
    return outcomes


def _observed(result: RuleResult, frame_text: str) -> str:
    # A GE error (e.g. a misspelt column) must show, not hide behind the frame's numbers.
    return result.observed if result.raised else frame_text
