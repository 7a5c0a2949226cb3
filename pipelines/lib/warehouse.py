"""Connections to the working database (one writer process, see docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from pipelines.lib.config import settings


@contextmanager
def work_db(read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The working DuckDB file; closed on exit so dbt (a separate connection) can open it.

    Memory is bounded (`YIYU_DUCKDB_MEMORY_LIMIT`): beyond it DuckDB spills to disk instead
    of growing with the data (province scale on one machine)."""
    config = settings()
    config.work_db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(config.work_db),
        read_only=read_only,
        config={
            "memory_limit": config.duckdb_memory_limit,
            "temp_directory": str(config.spill_dir),
        },
    )
    try:
        yield con
    finally:
        con.close()
