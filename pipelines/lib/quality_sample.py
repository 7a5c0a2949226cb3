"""Row-level expectations validated by Great Expectations on a pandas frame.

A table larger than the suite's `sample_rows` is validated on a deterministic sample: the
rows with the smallest hash of their content, so the same data always gives the same sample
and an unchanged row stays in it from run to run.
"""

from __future__ import annotations

import os
from typing import Any

import duckdb
import pandas as pd

from pipelines.lib.quality_suites import CheckOutcome, Suite, kwargs_of


def sample_frame(
    con: duckdb.DuckDBPyConnection, table: str, sample_rows: int, derived: dict[str, str]
) -> tuple[pd.DataFrame, str]:
    """The rows to validate (with the suite's derived columns) and a note of what they are."""
    total = con.execute(f"select count(*) from {table}").fetchone()[0]
    extra = "".join(f", {sql} as {name}" for name, sql in derived.items())
    if total <= sample_rows:
        return con.execute(f"select *{extra} from {table}").df(), f"full table, {total} rows"
    frame = con.execute(
        f"select *{extra} from (select * from {table} as t order by hash(t) limit {sample_rows})"
    ).df()
    return frame, f"deterministic sample of {sample_rows} of {total} rows"


def validate_frame(frame: pd.DataFrame, name: str, expectations: list[Any]) -> list[Any]:
    """GE validation results, one per expectation, in the order given."""
    if not expectations:
        return []
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("quality")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("rows")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name=name, expectations=[e.copy() for e in expectations])
    result = batch.validate(suite, result_format="BASIC")
    by_name = {r.expectation_config.meta["name"]: r for r in result.results}
    return [by_name[e.meta["name"]] for e in expectations]


def observed_from(result: Any) -> str:
    """A count-only summary of a GE result: never the unexpected values themselves."""
    if result.exception_info and result.exception_info.get("raised_exception"):
        message = str(result.exception_info.get("exception_message", "")).splitlines()[0]
        return f"not evaluable: {message[:200]}"
    details = result.result or {}
    if "unexpected_count" in details:
        checked = details.get("element_count", 0) - details.get("missing_count", 0)
        percent = details.get("unexpected_percent") or 0.0
        return f"{details['unexpected_count']} of {checked} values unexpected ({percent:.2f}%)"
    return f"observed {details.get('observed_value')}"


def validate_sample(
    con: duckdb.DuckDBPyConnection, table: str, suite: Suite, expectations: list[Any]
) -> list[CheckOutcome]:
    """Validate the row-level expectations of one dataset on its (sampled) rows."""
    if not expectations:
        return []
    frame, evaluated_on = sample_frame(con, table, suite.sample_rows, suite.derived_columns)
    present = [e for e in expectations if not _missing_columns(e, frame)]
    missing = [e for e in expectations if _missing_columns(e, frame)]
    results = validate_frame(frame, suite.name, present)
    outcomes = [
        CheckOutcome.of(e, suite.name, r.success, observed_from(r), evaluated_on)
        for e, r in zip(present, results, strict=True)
    ]
    outcomes += [
        CheckOutcome.of(e, suite.name, False, "column missing", evaluated_on) for e in missing
    ]
    return outcomes


def _missing_columns(expectation: Any, frame: pd.DataFrame) -> bool:
    kwargs = kwargs_of(expectation)
    named = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    return any(c is not None and c not in frame.columns for c in named)
