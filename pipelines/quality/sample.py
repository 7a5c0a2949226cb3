"""Row-level expectations validated by Great Expectations (its worker: quality_ge.py).

A table larger than the suite's `sample_rows` is validated on a deterministic sample: the
rows with the smallest hash of their content, so the same data always gives the same sample
and an unchanged row stays in it from run to run. Only the columns the expectations read go
to pandas (all of them when an expectation may read any column), so the frame is bounded by
the sample size and the suite, never by the table.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from pipelines.quality.ge import Rule, RuleResult, validation
from pipelines.quality.suites import CheckOutcome, Suite, kwargs_of

# GE domain types whose expectations read only the columns named in their arguments.
COLUMN_DOMAINS = ("column", "column_pair", "multicolumn")
# A table is scanned once for the rows whose hash may rank among the sample's (about this
# many times the sample size): ranking the whole table and reading it twice costs more.
CANDIDATE_FACTOR = 2


def sample_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sample_rows: int,
    derived: dict[str, str],
    columns: Collection[str] | None = None,
    total: int | None = None,
) -> tuple[pd.DataFrame, str]:
    """The rows to validate (with the suite's derived columns) and a note of what they are.

    `columns`: the table and derived columns to keep (default: all); `total`: the table's
    row count when the caller already has it."""
    if total is None:
        total = con.execute(f"select count(*) from {table}").fetchone()[0]
    if columns is None:
        select = "".join(["*", *(f", {sql} as {name}" for name, sql in derived.items())])
    else:
        select = ", ".join(
            [
                *(f'"{c}"' for c in columns if c not in derived),
                *(f"{sql} as {name}" for name, sql in derived.items() if name in columns),
            ]
        )
    if total <= sample_rows:
        return con.execute(f"select {select} from {table}").df(), sample_note(total, sample_rows)
    # The hash of the whole row: hash(c1, ..., cn) equals DuckDB's hash(t) of the row struct
    # (the same combination of the column hashes), without building the struct; ties broken
    # by the row's lineage (_file, _row: one row each in every ingested relation).
    row_hash = "hash(" + ", ".join(f'"{c}"' for c in _columns_of(con, table)) + ")"
    order = f"{row_hash}, _file, _row"
    # The N smallest hashes lie below the cutoff whenever at least N rows do (about
    # CANDIDATE_FACTOR * N of them, hashes being uniform): one scan keeps those and ranks them.
    cutoff = min(2**64 - 1, CANDIDATE_FACTOR * sample_rows * 2**64 // total)
    frame = con.execute(
        f"""select {select} from {table} where {row_hash} < {cutoff}::UBIGINT
        order by {order} limit {sample_rows}"""
    ).df()
    if len(frame) < sample_rows:  # hashes crowd above the cutoff (many equal rows): rank all
        # Ranked with the lineage alone, then the chosen rows fetched: a top-N carrying whole
        # rows of a province's 19M checks did not fit DuckDB's memory.
        frame = con.execute(
            f"""with pick as (select _file, _row from {table} order by {order} limit {sample_rows})
            select {select} from {table} semi join pick using (_file, _row) order by {order}"""
        ).df()
    return frame, sample_note(total, sample_rows)


def sample_note(total: int, sample_rows: int) -> str:
    """What the row-level expectations of a table of `total` rows are evaluated on."""
    if total <= sample_rows:
        return f"full table, {total} rows"
    return f"deterministic sample of {sample_rows} of {total} rows"


def _columns_of(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [d[0] for d in con.execute(f"select * from {table} limit 0").description]


def columns_read(expectations: list[Rule]) -> set[str] | None:
    """The columns the expectations read (arguments and row conditions), or None when one of
    them may read any column (a table-level expectation, a row condition given as text)."""
    names: set[str] = set()
    for expectation in expectations:
        if expectation.domain not in COLUMN_DOMAINS:
            return None
        kwargs = kwargs_of(expectation)
        names |= {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
        names |= set(kwargs.get("column_list", ()))
        if "row_condition" in kwargs:
            condition = _condition_columns(kwargs["row_condition"])
            if condition is None:
                return None
            names |= condition
    return names


def _condition_columns(condition: Any) -> set[str] | None:
    if not isinstance(condition, dict):
        return None
    kind = condition.get("type")
    if kind in ("comparison", "nullity"):
        return {condition["column"]["name"]}
    if kind in ("and", "or"):
        parts = [_condition_columns(c) for c in condition.get("conditions", [])]
        return None if any(p is None for p in parts) else set().union(*parts)
    return None


@dataclass(frozen=True)
class SampleValidation:
    """The row-level expectations of one dataset, under validation in the GE worker."""

    suite_name: str
    expectations: list[Rule]
    present: list[Rule]  # those whose columns exist, validated
    total: int  # rows of the table, of which the sample was drawn
    evaluated_on: str
    results: Future[list[RuleResult]]

    def outcomes(self) -> list[CheckOutcome]:
        """The outcomes, once GE is done: one per expectation, a missing column failing."""
        outcomes = [
            CheckOutcome.of(e, self.suite_name, r.success, r.observed, self.evaluated_on)
            for e, r in zip(self.present, self.results.result(), strict=True)
        ]
        return outcomes + [
            CheckOutcome.of(e, self.suite_name, False, "column missing", self.evaluated_on)
            for e in self.expectations
            if e not in self.present
        ]


def start_sample_validation(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite: Suite,
    expectations: list[Rule],
    table_columns: Collection[str] | None = None,
    total: int | None = None,
) -> SampleValidation:
    """Fetch the (sampled) rows of one dataset for its row-level expectations and start their
    validation in the GE worker.

    `table_columns` and `total`: the table's columns and row count, when the caller has them."""
    if table_columns is None:
        table_columns = _columns_of(con, table)
    available = [*table_columns, *(d for d in suite.derived_columns if d not in table_columns)]
    present = [e for e in expectations if not _missing_columns(e, available)]
    if total is None:
        total = con.execute(f"select count(*) from {table}").fetchone()[0]
    if present:
        read = columns_read(present)
        keep = None if read is None else [c for c in available if c in read] or None
        frame, evaluated_on = sample_frame(
            con, table, suite.sample_rows, suite.derived_columns, keep, total
        )
    else:  # nothing to validate: no rows to fetch
        frame, evaluated_on = pd.DataFrame(), sample_note(total, suite.sample_rows)
    results = validation(frame, suite.name, present)
    return SampleValidation(suite.name, expectations, present, total, evaluated_on, results)


def _missing_columns(expectation: Rule, columns: Collection[str]) -> bool:
    kwargs = kwargs_of(expectation)
    named = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    return any(c is not None and c not in columns for c in named)
