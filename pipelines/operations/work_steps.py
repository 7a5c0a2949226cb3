"""Which run last wrote each part of the working state, and whether that write finished.

The publish gate publishes only a working state this run completed (contract section 7): the
marts built by this very run, after every write they read from had finished, and nothing
left half-written by a run that failed or was killed. Each writing step marks its start and
its completion here with numbers of one sequence (one writer at a time, so their order is
the order of the writes). Working state only: the schema is never published.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb

from pipelines.publish.publish import table_exists

MARTS = "marts"
IDENTITY = "identity/child_index"
INGESTED = "ingested/"

_DDL = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SEQUENCE IF NOT EXISTS ops.write_order;
CREATE TABLE IF NOT EXISTS ops.work_steps (
    step VARCHAR PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    started BIGINT NOT NULL,
    completed BIGINT
);
"""


def _prior(con: duckdb.DuckDBPyConnection, step: str) -> tuple | None:
    return con.execute(
        "SELECT step, run_id, started, completed FROM ops.work_steps WHERE step = ?", [step]
    ).fetchone()


def mark_started(con: duckdb.DuckDBPyConnection, step: str, run_id: str) -> tuple | None:
    """`step` is being written by `run_id` from now; the previous mark, to restore()."""
    con.execute(_DDL)
    prior = _prior(con, step)
    con.execute(
        "INSERT OR REPLACE INTO ops.work_steps SELECT ?, ?, nextval('ops.write_order'), ?",
        [step, run_id, prior[3] if prior else None],
    )
    return prior


def mark_completed(con: duckdb.DuckDBPyConnection, step: str, run_id: str) -> None:
    con.execute(
        "UPDATE ops.work_steps SET completed = nextval('ops.write_order'), run_id = ?"
        " WHERE step = ?",
        [run_id, step],
    )


def restore(con: duckdb.DuckDBPyConnection, step: str, prior: tuple | None) -> None:
    """Undo mark_started() after a write that rolled back as a whole."""
    con.execute("DELETE FROM ops.work_steps WHERE step = ?", [step])
    if prior is not None:
        con.execute("INSERT INTO ops.work_steps VALUES (?, ?, ?, ?)", list(prior))


@contextlib.contextmanager
def transactional_write(con: duckdb.DuckDBPyConnection, step: str, run_id: str) -> Iterator[None]:
    """Mark a step whose write commits or rolls back as a whole: on an error its previous
    mark comes back (its data did too); killed, it stays marked as started (unknown)."""
    prior = mark_started(con, step, run_id)
    try:
        yield
    except BaseException:
        restore(con, step, prior)
        raise
    mark_completed(con, step, run_id)


def state_refusals(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Why the working state is not one this run completed (empty: it is)."""
    steps = {}
    if table_exists(con, "ops", "work_steps"):
        rows = con.execute("SELECT step, run_id, started, completed FROM ops.work_steps")
        steps = {r[0]: r[1:] for r in rows.fetchall()}
    marts = steps.get(MARTS)
    if marts is None or marts[0] != run_id or marts[2] is None or marts[2] < marts[1]:
        built = f"run {marts[0]}" if marts else "no run"
        return [
            f"the marts were not built completely by this run ({built} wrote them last):"
            " publishing alone never publishes; run the whole refresh"
        ]
    refusals = [
        f"{step} was left half-written by run {writer} (it failed or was killed):"
        " run the whole refresh"
        for step, (writer, started, completed) in sorted(steps.items())
        if completed is None or completed < started
    ]
    identity = steps.get(IDENTITY)
    for step, (_writer, _started, completed) in sorted(steps.items()):
        if step == MARTS or completed is None:
            continue
        reader, name = (marts, MARTS)
        if step.startswith(INGESTED) and identity is not None:
            reader, name = (identity, IDENTITY)
        if completed > reader[1]:
            refusals.append(f"{step} changed after {name} was built from it: run the whole refresh")
    return refusals
