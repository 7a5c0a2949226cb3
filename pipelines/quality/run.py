"""Data quality of one dataset (or the cross-source checks) in one run.

Evaluate the dataset's suite (exact counts in DuckDB, row-level rules with GE on the rows or
a deterministic sample), record every outcome in `quality.check_results` with its status
change, and rewrite the run's HTML page. The Dagster checks only turn the result into
blocking and warning check results; the `quality` resource (pipelines/resources.py) holds
what an ingestion step started for the check step of the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.config import Settings
from pipelines.quality.cross import validate_cross_source
from pipelines.quality.exact import EXACT_TYPES, column_types, evaluate_exact, scan_table
from pipelines.quality.ge import Rule, start_parsing
from pipelines.quality.history import RecordedCheck, Run, ensure_tables, last_good_rows, record
from pipelines.quality.report import write_run_report
from pipelines.quality.sample import SampleValidation, start_sample_validation
from pipelines.quality.suites import CROSS_SOURCE, CheckOutcome, Suite, expectations_dir, load_suite
from pipelines.warehouse import work_db


def start_validation(
    con: duckdb.DuckDBPyConnection, dataset: str, rows: int
) -> SampleValidation | None:
    """Start the GE validation of a table its ingestion step has just written (`rows` rows,
    from its audit: no count of the table again), so GE works on the other core while the run
    ingests the next sources. run_checks() of the same run takes it up (nothing else writes
    the table in between). None when the table is missing, or when GE has not parsed the
    suite yet (its worker still starting): ingestion does not wait, the check validates."""
    suite_text = (expectations_dir() / f"{dataset}.json").read_text(encoding="utf-8")
    if not start_parsing(suite_text).done():
        return None
    suite = load_suite(dataset)
    table = _table(suite, dataset)
    types = column_types(con, table)
    if not types:
        return None
    return start_sample_validation(con, table, suite, _row_rules(suite), list(types), rows)


def run_checks(
    dataset: str, run: Run, settings: Settings, started: SampleValidation | None = None
) -> list[RecordedCheck]:
    """Check `ingested.<dataset>` (or the cross-source suite) in the working database of
    `settings` and record the outcomes; `started`: what start_validation() began for it."""
    suite = load_suite(dataset)
    with work_db(settings) as con:
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
        write_run_report(con, run.run_id, settings.warehouse_dir)
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
