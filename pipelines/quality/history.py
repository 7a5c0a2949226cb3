"""The quality history in the working DB: `quality.check_results`, one row per check per run,
with its status change against the previous run that evaluated the same check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from pipelines.quality.suites import CheckOutcome


@dataclass(frozen=True)
class Run:
    run_id: str
    started_at: datetime  # UTC, naive


def run_of(context) -> Run:
    """The run of a Dagster asset or check execution context."""
    run_id = context.run.run_id
    started = context.instance.get_run_stats(run_id).start_time
    moment = datetime.fromtimestamp(started, UTC) if started else datetime.now(UTC)
    return Run(run_id=run_id, started_at=moment.replace(tzinfo=None))


@dataclass(frozen=True)
class RecordedCheck:
    outcome: CheckOutcome
    status_change: str  # new | resolved | persisting | ok


RESULT_COLUMNS = (
    "run_id",
    "run_started_at",
    "check_name",
    "dataset",
    "severity",
    "passed",
    "observed_value",
    "expected",
    "status_change",
    "dimension",
    "evaluated_on",
)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists quality")
    con.execute(
        """
        create table if not exists quality.check_results (
            run_id varchar not null,
            run_started_at timestamp not null,
            check_name varchar not null,
            dataset varchar not null,
            severity varchar not null,
            passed boolean not null,
            observed_value varchar,
            expected varchar,
            status_change varchar not null,
            dimension varchar not null,
            evaluated_on varchar
        )
        """
    )
    con.execute(
        """
        create or replace view quality.check_status_latest as
        select * exclude (latest) from (
            select *, row_number() over (
                partition by dataset, check_name order by run_started_at desc, run_id desc
            ) as latest
            from quality.check_results
        ) where latest = 1
        """
    )


def status_change(passed: bool, previously_passed: bool | None) -> str:
    """A check never run before counts as previously passing."""
    was_failing = previously_passed is False
    if passed:
        return "resolved" if was_failing else "ok"
    return "persisting" if was_failing else "new"


def last_good_rows(con: duckdb.DuckDBPyConnection, dataset: str, run: Run) -> Callable:
    """check_name -> the row count observed by the latest other run where that check passed."""

    def lookup(check_name: str) -> int | None:
        row = con.execute(
            """
            select try_cast(observed_value as bigint) from quality.check_results
            where dataset = ? and check_name = ? and passed and run_id <> ?
            order by run_started_at desc, run_id desc limit 1
            """,
            [dataset, check_name, run.run_id],
        ).fetchone()
        return None if row is None else row[0]

    return lookup


def record(
    con: duckdb.DuckDBPyConnection, run: Run, dataset: str, outcomes: list[CheckOutcome]
) -> list[RecordedCheck]:
    """Store the outcomes of one dataset in this run (replacing a retried step's rows)."""
    previous = dict(
        con.execute(
            """
            select check_name, passed from (
                select check_name, passed, row_number() over (
                    partition by check_name order by run_started_at desc, run_id desc
                ) as latest
                from quality.check_results where dataset = ? and run_id <> ?
            ) where latest = 1
            """,
            [dataset, run.run_id],
        ).fetchall()
    )
    recorded = [
        RecordedCheck(o, status_change(o.passed, previous.get(o.check_name))) for o in outcomes
    ]
    rows = pd.DataFrame(  # noqa: F841 (read by DuckDB below)
        [
            {
                "run_id": run.run_id,
                "run_started_at": run.started_at,
                "check_name": r.outcome.check_name,
                "dataset": dataset,
                "severity": r.outcome.severity,
                "passed": r.outcome.passed,
                "observed_value": r.outcome.observed_value,
                "expected": r.outcome.expected,
                "status_change": r.status_change,
                "dimension": r.outcome.dimension,
                "evaluated_on": r.outcome.evaluated_on,
            }
            for r in recorded
        ],
        columns=RESULT_COLUMNS,
    )
    con.execute("begin transaction")  # a retried step replaces its rows, never half of them
    con.execute(
        "delete from quality.check_results where run_id = ? and dataset = ?", [run.run_id, dataset]
    )
    con.execute("insert into quality.check_results by name select * from rows")
    con.execute("commit")
    return recorded
