"""Atomic publication of the evaluators' file.

The published file is never written in place: a complete copy is built beside it and renamed
over it (`os.replace`, atomic on one file system). A refresh killed at any moment leaves the
last good file as it was; readers that hold the old file open keep reading it.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipelines.operations.failpoints import failpoint

# Schemas of the working database that evaluators may read: aggregates, audit, quality.
PUBLISHED_SCHEMAS = ("marts", "audit", "quality", "meta")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(work: Path, published: Path, run_id: str) -> dict[str, int]:
    """Copy the published schemas of `work` into a new file and swap it in. Rows per table."""
    published.parent.mkdir(parents=True, exist_ok=True)
    for stale in published.parent.glob(f"{published.name}.*.tmp"):
        stale.unlink()  # left by a killed refresh; only one refresh writes at a time
    tmp = published.with_name(f"{published.name}.{run_id}.tmp")
    rows: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        con.execute("ATTACH ? AS work (READ_ONLY)", [str(work)])
        relations = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'work' "
            "AND schema_name IN (SELECT unnest(?)) "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = 'work' AND NOT internal AND schema_name IN (SELECT unnest(?)) "
            "ORDER BY 1, 2",
            [list(PUBLISHED_SCHEMAS), list(PUBLISHED_SCHEMAS)],
        ).fetchall()
        for schema, name in relations:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.execute(f'CREATE TABLE "{schema}"."{name}" AS FROM work."{schema}"."{name}"')
            rows[f"{schema}.{name}"] = con.execute(
                f'SELECT count(*) FROM "{schema}"."{name}"'
            ).fetchone()[0]
        con.execute("DETACH work")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _fsync(tmp)
    failpoint("publishing")
    os.replace(tmp, published)
    _fsync(published.parent)
    return rows
