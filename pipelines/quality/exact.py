"""Expectations evaluated exactly in DuckDB over the whole table, never on a sample.

A sample cannot prove a fill rate, a uniqueness or a row count at province scale, and the
pandas frame loses DuckDB's column types, so these types are computed here in SQL with GE's
semantics (`mostly` is the least passing share; nulls are ignored by uniqueness). One scan of
the table gives the row count, every fill count and the distinct hashes of the unique
columns; only a column with fewer distinct hashes than values (a duplicate) is read again to
count exactly the rows that share a value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from pipelines.quality.suites import CheckOutcome, kwargs_of

SCHEMA_TYPES = ("expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list")
COUNT_TYPES = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_unique",
    "expect_table_row_count_to_be_between",
)
UNIQUE = "expect_column_values_to_be_unique"
EXACT_TYPES = SCHEMA_TYPES + COUNT_TYPES


def column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Column name -> DuckDB type; empty when the table does not exist."""
    schema, name = table.split(".")
    rows = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class TableScan:
    """What the exact expectations need from a table, read in one scan of it."""

    types: dict[str, str]  # column -> DuckDB type
    total: int
    filled: dict[str, int]  # non-null values of every column the expectations name
    distinct: dict[str, int]  # distinct hashes of the non-null values of the unique columns


def scan_table(
    con: duckdb.DuckDBPyConnection, table: str, types: dict[str, str], expectations: list[Any]
) -> TableScan:
    """Row count, fill counts and uniqueness hints of an existing table, in one scan."""
    named = sorted({kwargs_of(e).get("column") for e in expectations} & set(types))
    unique = sorted(
        {kwargs_of(e).get("column") for e in expectations if e.expectation_type == UNIQUE}
        & set(types)
    )
    # Equal values have equal hashes: as many distinct hashes as values proves uniqueness.
    # Fewer (a duplicate, or a hash collision) sends the column to the exact count.
    row = con.execute(
        "select "
        + ", ".join(
            [
                "count(*)",
                *(f'count("{c}")' for c in named),
                *(f'count(distinct hash("{c}")) filter (where "{c}" is not null)' for c in unique),
            ]
        )
        + f" from {table}"
    ).fetchone()
    return TableScan(
        types=types,
        total=row[0],
        filled=dict(zip(named, row[1 : 1 + len(named)], strict=True)),
        distinct=dict(zip(unique, row[1 + len(named) :], strict=True)),
    )


def evaluate_exact(
    con: duckdb.DuckDBPyConnection,
    table: str,
    dataset: str,
    expectations: list[Any],
    last_good_rows: Callable[[str], int | None],
    scan: TableScan | None = None,
) -> list[CheckOutcome]:
    """`last_good_rows(check_name)`: the row count of the last run where that check passed;
    `scan`: the table's `scan_table` when the caller has it."""
    if scan is None:
        scan = scan_table(con, table, column_types(con, table), expectations)
    types, total = scan.types, scan.total
    whole = f"full table, {total} rows"
    outcomes = []
    for exp in expectations:
        column = kwargs_of(exp).get("column")
        if column is not None and column not in types:
            outcomes.append(CheckOutcome.of(exp, dataset, False, "column missing", "table schema"))
        elif exp.expectation_type in SCHEMA_TYPES:
            outcomes.append(_type_outcome(exp, dataset, types[column]))
        elif exp.expectation_type == "expect_column_values_to_not_be_null":
            outcomes.append(_fill_outcome(exp, dataset, scan.filled[column], total, whole))
        elif exp.expectation_type == UNIQUE:
            outcomes.append(_unique_outcome(con, table, exp, dataset, scan, whole))
        else:
            outcomes.append(_row_count_outcome(exp, dataset, total, whole, last_good_rows))
    return outcomes


def _type_outcome(exp, dataset: str, actual: str) -> CheckOutcome:
    kwargs = kwargs_of(exp)
    allowed = kwargs.get("type_list") or [kwargs["type_"]]
    passed = actual.upper() in {t.upper() for t in allowed}
    return CheckOutcome.of(exp, dataset, passed, actual, "table schema")


def _share_passes(good: int, of: int, mostly: float) -> bool:
    # GE: an empty batch passes; otherwise the passing share must reach `mostly`.
    return of == 0 or good / of >= mostly


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "n/a"


def _fill_outcome(exp, dataset: str, filled: int, total: int, whole: str) -> CheckOutcome:
    mostly = kwargs_of(exp).get("mostly", 1.0)
    observed = f"filled in {filled} of {total} rows ({_percent(filled, total)})"
    return CheckOutcome.of(exp, dataset, _share_passes(filled, total, mostly), observed, whole)


def _unique_outcome(con, table, exp, dataset: str, scan: TableScan, whole: str) -> CheckOutcome:
    column = kwargs_of(exp)["column"]
    non_null = scan.filled[column]
    duplicated = 0
    if scan.distinct[column] < non_null:
        duplicated = con.execute(
            f"select coalesce(sum(n), 0) from (select count(*) as n from {table}"
            f' where "{column}" is not null group by "{column}" having count(*) > 1)'
        ).fetchone()[0]
    mostly = kwargs_of(exp).get("mostly", 1.0)
    passed = _share_passes(non_null - duplicated, non_null, mostly)
    observed = f"{duplicated} of {non_null} non-null rows share a value"
    return CheckOutcome.of(exp, dataset, passed, observed, whole)


def _row_count_outcome(exp, dataset, total: int, whole: str, last_good_rows) -> CheckOutcome:
    band = exp.meta.get("relative_to_last_good")
    if band is None:
        kwargs = kwargs_of(exp)
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        passed = (low is None or total >= low) and (high is None or total <= high)
        return CheckOutcome.of(exp, dataset, passed, str(total), whole)
    last = last_good_rows(exp.meta["name"])
    if last is None:
        expected = "no earlier passing run to compare with (first run passes)"
        return CheckOutcome.of(exp, dataset, True, str(total), whole, expected)
    low, high = last * band["min_ratio"], last * band["max_ratio"]
    expected = (
        f"between {low:g} and {high:g} rows"
        f" ({band['min_ratio']}..{band['max_ratio']} x {last} rows of the last good run)"
    )
    return CheckOutcome.of(exp, dataset, low <= total <= high, str(total), whole, expected)
