"""Atomic publication of the evaluators' file and report.

The published file is never written in place: a complete candidate is built in a staging
folder beside it (under the same name, so whatever reads it sees the name evaluators see),
checked, the report rendered from it, and both renamed over the published ones
(`os.replace`, atomic on one file system). A refresh failed or killed at any moment leaves the
last good file as it was; readers that hold the old file open keep reading it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipelines.operations.failpoints import failpoint
from pipelines.publish.comments import apply_comments

# Schemas of the working database that evaluators may read: aggregates, audit, quality.
PUBLISHED_SCHEMAS = ("marts", "audit", "quality", "meta")
# What the report reads beside the published file (the submitted vintages).
BESIDE_PUBLISHED = ("submissions.duckdb",)
_STAGING_PREFIX = ".publish-"


def table_exists(
    con: duckdb.DuckDBPyConnection, schema: str, name: str, database: str | None = None
) -> bool:
    """Whether the table exists in `database` (default: the connection's own)."""
    query = (
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = coalesce(?, current_database())"
        " AND schema_name = ? AND table_name = ?"
    )
    return con.execute(query, [database, schema, name]).fetchone()[0] > 0


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clear_staging(published: Path) -> None:
    """Candidates left by killed refreshes (only one refresh writes at a time)."""
    for stale in published.parent.glob(f"{_STAGING_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in published.parent.glob(f"{published.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def build_candidate(
    work: Path,
    published: Path,
    run_id: str,
    finish: Callable[[duckdb.DuckDBPyConnection], None],
) -> tuple[Path, dict[str, int]]:
    """Copy the published schemas of `work` into a candidate file named like `published`, in
    a staging folder beside it; `finish` checks and completes it before it is closed. The
    candidate and its rows per table."""
    published.parent.mkdir(parents=True, exist_ok=True)
    clear_staging(published)
    staging = published.parent / f"{_STAGING_PREFIX}{run_id}"
    staging.mkdir()
    candidate = staging / published.name
    try:
        rows = _copy_published_schemas(work, candidate, finish)
        for name in BESIDE_PUBLISHED:
            _link_beside(published.parent / name, staging / name)
    except BaseException:
        discard(candidate)
        raise
    return candidate, rows


def _copy_published_schemas(
    work: Path, candidate: Path, finish: Callable[[duckdb.DuckDBPyConnection], None]
) -> dict[str, int]:
    rows: dict[str, int] = {}
    con = duckdb.connect(str(candidate))
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
        apply_comments(con, "work")  # CREATE TABLE AS dropped them
        con.execute("DETACH work")
        finish(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _fsync(candidate)
    return rows


def _link_beside(source: Path, link: Path) -> None:
    """What the report reads beside the published file, beside the candidate too (read only)."""
    if source.exists():
        try:
            os.link(source, link)
        except OSError:  # a file system without hard links
            shutil.copyfile(source, link)


def swap(staged: dict[Path, Path]) -> None:
    """Rename each staged file over its published one, the published file first: a report
    never shows figures that were not published."""
    failpoint("publishing")
    for source, destination in staged.items():
        os.replace(source, destination)
    for folder in {d.parent for d in staged.values()}:
        _fsync(folder)


def discard(candidate: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(candidate.parent)
