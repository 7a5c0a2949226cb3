"""Data quality of one dataset (or the cross-source checks) in one run.

Evaluate the dataset's suite (exact counts in DuckDB, row-level rules with GE on the rows or
a deterministic sample), record every outcome in `quality.check_results` with its status
change, and rewrite the run's HTML page. The Dagster checks only turn the result into
blocking and warning check results.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import duckdb

from pipelines.quality.cross import validate_cross_source
from pipelines.quality.exact import EXACT_TYPES, column_types, evaluate_exact, scan_table
from pipelines.quality.ge import Rule
from pipelines.quality.history import RecordedCheck, Run, ensure_tables, last_good_rows, record
from pipelines.quality.report import write_run_report
from pipelines.quality.sample import SampleValidation, start_sample_validation
from pipelines.quality.suites import CROSS_SOURCE, CheckOutcome, Suite, load_suite
from pipelines.warehouse import work_db

# Row-level validations that ingestion steps started (start_checks()), by (run id, dataset).
_started: dict[tuple[str, str], SampleValidation] = {}


def start_checks(con: duckdb.DuckDBPyConnection, dataset: str, run_id: str, rows: int) -> None:
    """Start the GE validation of a table its ingestion step has just written (`rows` rows,
    from its audit: no count of the table again): GE works on the other core while the run
    ingests the next sources, and run_checks() of the same run takes the result up (nothing
    else writes the table in between)."""
    for other in [key for key in _started if key[0] != run_id]:
        del _started[other]  # a run that failed before its checks
    # Whatever fails here, run_checks() evaluates again and reports.
    with contextlib.suppress(Exception):
        suite = load_suite(dataset)
        table = _table(suite, dataset)
        types = column_types(con, table)
        if types:
            rules = _row_rules(suite)
            _started[(run_id, dataset)] = start_sample_validation(
                con, table, suite, rules, list(types), rows
            )


def run_checks(dataset: str, run: Run) -> list[RecordedCheck]:
    """Check `ingested.<dataset>` (or the cross-source suite) and record the outcomes."""
    suite = load_suite(dataset)
    started = _started.pop((run.run_id, dataset), None)
    with work_db() as con:
        ensure_tables(con)
        if dataset == CROSS_SOURCE:
            outcomes = validate_cross_source(con, suite)
        else:
            table = _table(suite, dataset)
            types = column_types(con, table)
            if not types:
                outcomes = [
                    CheckOutcome.of(e, dataset, False, f"table {table} missing", "nothing")
                    for e in suite.expectations
                ]
            else:
                exact = [e for e in suite.expectations if e.expectation_type in EXACT_TYPES]
                rows = _row_rules(suite)
                history = last_good_rows(con, dataset, run)
                scan = scan_table(con, table, types, exact)
                # Validated again when the suite was edited since, or the table is not what
                # the ingestion step counted.
                if started is None or (started.expectations, started.total) != (rows, scan.total):
                    started = start_sample_validation(
                        con, table, suite, rows, list(types), scan.total
                    )
                outcomes = evaluate_exact(con, table, dataset, exact, history, scan)
                outcomes += started.outcomes()
        recorded = record(con, run, dataset, outcomes)
        write_run_report(con, run.run_id)
    return recorded


def _table(suite: Suite, dataset: str) -> str:
    return suite.meta.get("table", f"ingested.{dataset}")


def _row_rules(suite: Suite) -> list[Rule]:
    """The expectations GE validates on the rows (the others are exact counts in DuckDB)."""
    return [e for e in suite.expectations if e.expectation_type not in EXACT_TYPES]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one severity of one dataset, as a Dagster check reports it."""

    passed: bool
    description: str
    failures: list[dict[str, str]]
    checks: int


def verdict(recorded: list[RecordedCheck], severity: str) -> Verdict:
    mine = [r for r in recorded if r.outcome.severity == severity]
    failed = [r for r in mine if not r.outcome.passed]
    failures = [
        {
            "check": r.outcome.check_name,
            "dataset": r.outcome.dataset,
            "observed": r.outcome.observed_value,
            "expected": r.outcome.expected,
            "evaluated_on": r.outcome.evaluated_on,
            "status_change": r.status_change,
        }
        for r in failed
    ]
    if not failed:
        return Verdict(True, f"all {len(mine)} {severity} checks passed", [], len(mine))
    lines = [
        f"{f['check']} on {f['dataset']} ({f['status_change']}): observed {f['observed']};"
        f" expected {f['expected']}"
        for f in failures
    ]
    head = f"{len(failed)} of {len(mine)} {severity} checks failed:"
    return Verdict(False, "\n".join([head, *lines]), failures, len(mine))
