"""Cross-source checks: small metric frames computed in DuckDB over the child index and the
ingested tables, then validated by GE with `expectations/cross_source.json`.

Each expectation there names its frame in meta `metric`; the frames are aggregates only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pandas as pd

from pipelines.identity.resolve import SOURCE_RECORDS
from pipelines.quality.exact import column_types
from pipelines.quality.ge import RuleResult, validate
from pipelines.quality.suites import CROSS_SOURCE, CheckOutcome, Suite


def _per_source(con: duckdb.DuckDBPyConnection, memo: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per source, from the children's record counts per source: its records, those whose
    child also has a record in another source (linked), its children, and those of them with
    no archive."""
    if "per_source" not in memo:
        counts = ", ".join(SOURCE_RECORDS.values())
        sources = " + ".join(f"(coalesce({c}, 0) > 0)::INTEGER" for c in SOURCE_RECORDS.values())
        names = " ".join(f"WHEN '{c}' THEN '{s}'" for s, c in SOURCE_RECORDS.items())
        memo["per_source"] = con.execute(
            f"""
            with per_child as (
                select has_archive as archived, {sources} as sources, {counts}
                from identity.children
            ), per_pair as (
                unpivot per_child on {counts} into name count_column value n
            )
            select case count_column {names} end as source, sum(n)::bigint as records,
                   coalesce(sum(n) filter (where sources > 1), 0)::bigint as linked_records,
                   count(*) as children,
                   count(*) filter (where not archived) as children_without_archive
            from per_pair where n > 0
            group by source order by source
            """
        ).df()
    return memo["per_source"]


def _linkage_by_source(con: duckdb.DuckDBPyConnection, memo: dict) -> pd.DataFrame:
    # Linked = the record's child also has a record in another source.
    frame = _per_source(con, memo)[["source", "records", "linked_records"]].copy()
    frame["linked_share"] = frame["linked_records"] / frame["records"]
    return frame


def _enrolled_without_archive(con: duckdb.DuckDBPyConnection, memo: dict) -> pd.DataFrame:
    enrolled = _per_source(con, memo).query("source == 'enrollments'")
    children = int(enrolled["children"].sum())
    without = int(enrolled["children_without_archive"].sum())
    return pd.DataFrame(
        {
            "enrolled_children": [children],
            "without_archive": [without],
            "share": [without / children if children else float("nan")],
        }
    )


def _attribute_conflicts(con: duckdb.DuckDBPyConnection, memo: dict) -> pd.DataFrame:
    # Identity flags a child whose records disagree on birth date or sex (more than one
    # distinct value over all its records): counted from its children, no join of records.
    return con.execute(
        """
        select *,
               birth_date_conflicts / nullif(children, 0) as birth_date_conflict_share,
               sex_conflicts / nullif(children, 0) as sex_conflict_share
        from (
            select count(*) as children,
                   count(*) filter (where birth_date_conflict) as birth_date_conflicts,
                   count(*) filter (where sex_conflict) as sex_conflicts
            from identity.children
        )
        """
    ).df()


def _enrollments_unknown_institution(con: duckdb.DuckDBPyConnection, memo: dict) -> pd.DataFrame:
    return con.execute(
        """
        select count(*) as enrollments,
               count(*) filter (where i.institution_code is null) as unknown_institution,
               unknown_institution / nullif(enrollments, 0) as share
        from ingested.enrollments e
        left join (select distinct institution_code from ingested.institutions) i
        using (institution_code)
        """
    ).df()


# metric -> (frame from the connection and a memo shared by the metrics of one run, tables)
METRICS: dict[
    str, tuple[Callable[[duckdb.DuckDBPyConnection, dict], pd.DataFrame], tuple[str, ...]]
] = {
    "linkage_by_source": (_linkage_by_source, ("identity.children",)),
    "enrolled_without_archive": (_enrolled_without_archive, ("identity.children",)),
    "attribute_conflicts": (_attribute_conflicts, ("identity.children",)),
    "enrollments_unknown_institution": (
        _enrollments_unknown_institution,
        ("ingested.enrollments", "ingested.institutions"),
    ),
}


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
    outcomes, memo = [], {}
    for metric, (compute, tables) in METRICS.items():
        expectations = [e for e in suite.expectations if e.meta.get("metric") == metric]
        if not expectations:
            continue
        where = f"aggregate {metric} over whole tables"
        missing = [t for t in tables if not column_types(con, t)]
        if missing:
            outcomes += [
                CheckOutcome.of(e, CROSS_SOURCE, False, f"table missing: {missing}", where)
                for e in expectations
            ]
            continue
        frame = compute(con, memo)
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
