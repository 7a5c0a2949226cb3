"""Run history a data engineer can read: `meta.refresh_runs`, one row per run that wrote the
warehouse: who started it how (trigger, user, host, code version), its outcome and reason,
files and rows by outcome, checks, duration. Timestamps carry their time zone.

A run's row is written when it starts (outcome `running`) and completed when it ends; the
row of a run that never ended (killed) is settled by the next run, which also removes the
partial check results of such a run. Rows live in the working state and are published with
the next good refresh.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.publish.publish import table_exists

RUNNING, PUBLISHED, SUCCEEDED, FAILED, BLOCKED, KILLED = (
    "running",
    "published",
    "succeeded",
    "failed",
    "blocked",
    "killed",
)
KILLED_REASON = "the run ended without finishing (its process was killed or its machine stopped)"

COLUMNS = {
    "run_id": "VARCHAR PRIMARY KEY",
    "started_at": "TIMESTAMPTZ",
    "published_at": "TIMESTAMPTZ",
    "seconds": "DOUBLE",
    "files": "INTEGER",
    "files_parsed": "INTEGER",
    "files_rejected": "INTEGER",
    "rows_read": "BIGINT",
    "rows_loaded": "BIGINT",
    "rows_quarantined": "BIGINT",
    "rows_superseded": "BIGINT",
    "checks_run": "INTEGER",
    "checks_failed": "INTEGER",
    "ended_at": "TIMESTAMPTZ",
    "outcome": "VARCHAR",
    "reason": "VARCHAR",
    "trigger": "VARCHAR",
    "os_user": "VARCHAR",
    "host": "VARCHAR",
    "code_version": "VARCHAR",
}


def os_user() -> str:
    """The operating-system account running this process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return f"uid {os.getuid()}"


@dataclass(frozen=True)
class RunStart:
    run_id: str
    trigger: str  # cli | schedule | sensor | ui
    code_version: str
    started_at: datetime  # aware

    @property
    def os_user(self) -> str:
        return os_user()


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """meta.refresh_runs with COLUMNS; a table of an older layout is carried over."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    ddl = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    if not table_exists(con, "meta", "refresh_runs"):
        con.execute(f"CREATE TABLE meta.refresh_runs ({ddl})")
        return
    layout = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns()"
            " WHERE database_name = current_database() AND schema_name = 'meta'"
            " AND table_name = 'refresh_runs'"
        ).fetchall()
    )
    if list(layout) == list(COLUMNS) and layout["started_at"] == "TIMESTAMP WITH TIME ZONE":
        return
    # The first layout: naive UTC timestamps, and only published runs had a row.
    kept = ", ".join(
        f"timezone('UTC', {name}) AS {name}" if kind == "TIMESTAMP" else name
        for name, kind in layout.items()
    )
    outcome = "" if "outcome" in layout else f", '{PUBLISHED}' AS outcome"
    con.execute("BEGIN TRANSACTION")
    con.execute("ALTER TABLE meta.refresh_runs RENAME TO refresh_runs_old")
    con.execute(f"CREATE TABLE meta.refresh_runs ({ddl})")
    con.execute(
        f"INSERT INTO meta.refresh_runs BY NAME SELECT {kept}{outcome} FROM meta.refresh_runs_old"
    )
    con.execute("DROP TABLE meta.refresh_runs_old")
    con.execute("COMMIT")


def start_run(con: duckdb.DuckDBPyConnection, run: RunStart) -> None:
    """The run's row, outcome `running` (a retried start keeps its first row)."""
    ensure_table(con)
    con.execute(
        "INSERT OR IGNORE INTO meta.refresh_runs"
        " (run_id, started_at, outcome, trigger, os_user, host, code_version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            run.run_id,
            run.started_at,
            RUNNING,
            run.trigger,
            run.os_user,
            socket.gethostname(),
            run.code_version,
        ],
    )


def settle_unfinished(
    con: duckdb.DuckDBPyConnection, published: Path, current_run: str
) -> list[str]:
    """Runs still `running` other than `current_run` ended without finishing: `published` when
    the published file says they did (killed after the swap), else `killed`, and their
    partial check results go. The killed runs' ids."""
    ensure_table(con)
    unfinished = [
        r[0]
        for r in con.execute(
            "SELECT run_id FROM meta.refresh_runs WHERE outcome = ? AND run_id <> ?",
            [RUNNING, current_run],
        ).fetchall()
    ]
    made_it = _published_runs(published, unfinished)
    killed = [run for run in unfinished if run not in made_it]
    for run in made_it:
        con.execute("UPDATE meta.refresh_runs SET outcome = ? WHERE run_id = ?", [PUBLISHED, run])
    for run in killed:
        con.execute(
            "UPDATE meta.refresh_runs SET outcome = ?, reason = ? WHERE run_id = ?",
            [KILLED, KILLED_REASON, run],
        )
        if table_exists(con, "quality", "check_results"):
            con.execute("DELETE FROM quality.check_results WHERE run_id = ?", [run])
    return killed


def _published_runs(published: Path, runs: list[str]) -> set[str]:
    if not runs or not published.exists():
        return set()
    con = duckdb.connect(str(published), read_only=True)
    try:
        if not table_exists(con, "meta", "refresh_runs"):
            return set()
        rows = con.execute(
            "SELECT run_id FROM meta.refresh_runs WHERE outcome = ? AND list_contains(?, run_id)",
            [PUBLISHED, runs],
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    outcome: str,
    reason: str | None = None,
    published_at: datetime | None = None,
) -> dict[str, object]:
    """Complete the run's row: outcome, reason, end and duration, the files and rows of the
    audit as they are now, and the checks this run evaluated. The row."""
    ensure_table(con)
    now = datetime.now(UTC)
    files = (0, 0, 0, 0, 0, 0, 0)
    if table_exists(con, "audit", "file_audit"):
        files = con.execute(
            "SELECT count(*), count(*) FILTER (parsed_this_run),"
            " count(*) FILTER (status = 'rejected'), sum(rows_read), sum(rows_loaded),"
            " sum(rows_quarantined), sum(rows_superseded) FROM audit.file_audit"
            " WHERE status IS DISTINCT FROM 'withdrawn'"
        ).fetchone()
    checks = (0, 0)
    if table_exists(con, "quality", "check_results"):
        checks = con.execute(
            "SELECT count(*), count(*) FILTER (NOT passed) FROM quality.check_results"
            " WHERE run_id = ?",
            [run_id],
        ).fetchone()
    row = {
        "ended_at": now,
        "published_at": published_at,
        "outcome": outcome,
        "reason": reason,
        "files": files[0],
        "files_parsed": files[1],
        "files_rejected": files[2],
        "rows_read": int(files[3] or 0),
        "rows_loaded": int(files[4] or 0),
        "rows_quarantined": int(files[5] or 0),
        "rows_superseded": int(files[6] or 0),
        "checks_run": checks[0],
        "checks_failed": checks[1],
    }
    assignments = ", ".join(f"{name} = ?" for name in row)
    con.execute(
        f"UPDATE meta.refresh_runs SET {assignments},"
        " seconds = epoch(CAST(? AS TIMESTAMPTZ) - started_at) WHERE run_id = ?",
        [*row.values(), now, run_id],
    )
    return row


def mark_published(con: duckdb.DuckDBPyConnection, run_id: str, at: datetime) -> None:
    """In the candidate file: this run is the one that published it."""
    con.execute(
        "UPDATE meta.refresh_runs SET outcome = ?, published_at = ? WHERE run_id = ?",
        [PUBLISHED, at, run_id],
    )
