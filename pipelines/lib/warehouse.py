"""Connections to the working database (one writer process, see docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from pipelines.lib.config import settings


@contextmanager
def work_db(read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The working DuckDB file; closed on exit so dbt (a separate connection) can open it."""
    path = settings().work_db
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()
