"""Cross-source checks: small metric frames computed in DuckDB over the child index and the
ingested tables, then validated by GE with `expectations/cross_source.json`.

Each expectation there names its frame in meta `metric`; the frames are aggregates only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pandas as pd

from pipelines.lib.quality_exact import column_types
from pipelines.lib.quality_sample import observed_from, validate_frame
from pipelines.lib.quality_suites import CROSS_SOURCE, CheckOutcome, Suite
from pipelines.lib.sources import SOURCES

CHILD_SOURCES = tuple(name for name, s in SOURCES.items() if s.child_level)


def _linkage_by_source(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # Linked = the record's child also has a record in another source.
    return con.execute(
        """
        with multi as (
            select child_key from identity.child_records
            group by child_key having count(distinct source) > 1
        )
        select r.source, count(*) as records, count(m.child_key) as linked_records,
               count(m.child_key) / count(*) as linked_share
        from identity.child_records r left join multi m using (child_key)
        group by r.source order by r.source
        """
    ).df()


def _enrolled_without_archive(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        """
        with enrolled as (
            select distinct child_key from identity.child_records where source = 'enrollments'
        ), archived as (
            select distinct child_key from identity.child_records
            where source = 'health_archives'
        )
        select count(*) as enrolled_children,
               count(*) filter (where a.child_key is null) as without_archive,
               without_archive / nullif(enrolled_children, 0) as share
        from enrolled e left join archived a using (child_key)
        """
    ).df()


def _attribute_conflicts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    attributes = " union all ".join(
        f"select '{s}' as source, record_key, birth_date, sex from ingested.{s}"
        for s in CHILD_SOURCES
    )
    return con.execute(
        f"""
        with per_child as (
            select c.child_key, count(distinct a.birth_date) as birth_dates,
                   count(distinct a.sex) as sexes
            from identity.child_records c join ({attributes}) a using (source, record_key)
            group by c.child_key
        )
        select count(*) as children,
               count(*) filter (where birth_dates > 1) as birth_date_conflicts,
               count(*) filter (where sexes > 1) as sex_conflicts,
               birth_date_conflicts / nullif(children, 0) as birth_date_conflict_share,
               sex_conflicts / nullif(children, 0) as sex_conflict_share
        from per_child
        """
    ).df()


def _enrollments_unknown_institution(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
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


METRICS: dict[str, tuple[Callable[[duckdb.DuckDBPyConnection], pd.DataFrame], tuple[str, ...]]] = {
    "linkage_by_source": (_linkage_by_source, ("identity.child_records",)),
    "enrolled_without_archive": (_enrolled_without_archive, ("identity.child_records",)),
    "attribute_conflicts": (
        _attribute_conflicts,
        ("identity.child_records", *(f"ingested.{s}" for s in CHILD_SOURCES)),
    ),
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
    outcomes = []
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
        frame = compute(con)
        results = validate_frame(frame, f"{CROSS_SOURCE}_{metric}", expectations)
        observed = _describe(frame)
        outcomes += [
            CheckOutcome.of(e, CROSS_SOURCE, r.success, _observed(r, observed), where)
            for e, r in zip(expectations, results, strict=True)
        ]
    return outcomes


def _observed(result: Any, frame_text: str) -> str:
    # A GE error (e.g. a misspelt column) must show, not hide behind the frame's numbers.
    failed_to_run = result.exception_info and result.exception_info.get("raised_exception")
    return observed_from(result) if failed_to_run else frame_text
