"""The publish gate (contract section 7): what a candidate must be before it replaces the
published file. Aggregates over the marts and the audit only, so it costs little at any scale.

- the working state was completed by this run (pipelines/operations/work_steps.py);
- no source lost every file, or more than WITHDRAWN_SHARE of its rows, since the last good
  refresh, unless the run accepts withdrawals;
- free space for the new file;
- in the candidate: no empty mart, every period from YIYU_PERIOD_START to the as-of date, and
  every file's audit equation.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.operations.failpoints import fault_active
from pipelines.publish.publish import table_exists

WITHDRAWN_SHARE = 0.2
# Beyond the files themselves: the report, DuckDB's own overhead while it writes.
SPACE_MARGIN_BYTES = 64 * 2**20


class PublishRefused(RuntimeError):
    """The candidate is not published; the message says why, in one line."""


class NotEnoughSpace(RuntimeError):
    """Too little free space to build the new published file."""


@dataclass(frozen=True)
class Withdrawal:
    """What one source lost since the last good refresh."""

    source: str
    files: list[tuple[str, int]]  # (file, rows it held) no longer in the landing folder
    files_before: int
    rows_before: int
    files_now: int

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.files)

    def refusal(self) -> str | None:
        """Why publishing without these files needs --accept-withdrawals; None: it does not."""
        named = ", ".join(f"{self.source}/{file}" for file, _ in self.files[:3])
        more = f" and {len(self.files) - 3} more" if len(self.files) > 3 else ""
        if self.files_now == 0:
            return f"{self.source}: every file withdrawn ({named}{more})"
        if self.rows > WITHDRAWN_SHARE * self.rows_before:
            share = self.rows / self.rows_before
            return (
                f"{self.source}: {len(self.files)} files withdrawn holding {self.rows} of"
                f" {self.rows_before} rows ({share:.0%}, more than {WITHDRAWN_SHARE:.0%}):"
                f" {named}{more}"
            )
        return None


def withdrawals(con: duckdb.DuckDBPyConnection, published: Path) -> list[Withdrawal]:
    """Files of the last good refresh's audit (`published`) that the working audit no longer
    holds as delivered, by source."""
    if not published.exists() or not table_exists(con, "audit", "file_audit"):
        return []
    con.execute("ATTACH ? AS last_good (READ_ONLY)", [str(published)])
    try:
        if not table_exists(con, "audit", "file_audit", database="last_good"):
            return []
        rows = con.execute(
            """
            WITH before AS (
                SELECT source, file, rows_loaded FROM last_good.audit.file_audit
                WHERE status IS DISTINCT FROM 'withdrawn'
            ), now AS (
                SELECT source, file FROM audit.file_audit
                WHERE status IS DISTINCT FROM 'withdrawn'
            )
            SELECT b.source,
                list({'file': b.file, 'rows': b.rows_loaded} ORDER BY b.file)
                    FILTER (n.file IS NULL),
                count(*), coalesce(sum(b.rows_loaded), 0),
                (SELECT count(*) FROM now WHERE now.source = b.source)
            FROM before b LEFT JOIN now n USING (source, file)
            GROUP BY b.source ORDER BY b.source
            """
        ).fetchall()
    finally:
        con.execute("DETACH last_good")
    return [
        Withdrawal(source, [(f["file"], int(f["rows"] or 0)) for f in gone], n, int(r), now)
        for source, gone, n, r, now in rows
        if gone
    ]


def space_needed(config: Settings) -> int:
    """About the size of the current published file (the new one is as large, give or take
    what changed) or, before the first, of the working file, and the report."""
    published = config.warehouse_path
    base = published if published.exists() else config.work_db
    report = config.warehouse_dir / "report.html"
    sizes = [p.stat().st_size for p in (base, report) if p.exists()]
    return sum(sizes) + SPACE_MARGIN_BYTES


def free_space(folder: Path) -> int:
    return 0 if fault_active("disk_full") else shutil.disk_usage(folder).free


def check_disk_space(config: Settings) -> None:
    need, free = space_needed(config), free_space(config.warehouse_dir)
    if free < need:
        raise NotEnoughSpace(
            f"not enough free space in {config.warehouse_dir} to build the new published file:"
            f" about {_mb(need)} needed, {_mb(free)} free; the published file stays as it is"
        )


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def derived_as_of(con: duckdb.DuckDBPyConnection, config: Settings) -> date | None:
    """The as-of date of the build: YIYU_AS_OF, else what the dbt project derived from the
    data (its as-of model)."""
    if config.as_of is not None:
        return config.as_of
    if not table_exists(con, "intermediate", "int_as_of_date"):
        return None
    row = con.execute("SELECT max(as_of_date) FROM intermediate.int_as_of_date").fetchone()
    return row[0] if row else None


def quarters(first: date, last: date) -> list[str]:
    """Labels (2023Q2) of the calendar quarters from the one holding `first` to `last`'s."""
    labels = []
    year, quarter = first.year, (first.month - 1) // 3 + 1
    while (year, quarter) <= (last.year, (last.month - 1) // 3 + 1):
        labels.append(f"{year}Q{quarter}")
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return labels


def candidate_refusals(
    con: duckdb.DuckDBPyConnection, period_start: date, as_of: date | None
) -> list[str]:
    """Why the candidate (`con`) must not be published; empty when it may."""
    refusals = []
    marts = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            " AND schema_name = 'marts' ORDER BY 1"
        ).fetchall()
    ]
    if not marts:
        refusals.append("no marts were built")
    for name in marts:
        if con.execute(f'SELECT count(*) FROM (FROM marts."{name}" LIMIT 1)').fetchone()[0] == 0:
            refusals.append(f"marts.{name} is empty")
    if as_of is None:
        refusals.append("no as-of date: the data hold no event date and YIYU_AS_OF is unset")
    elif as_of < period_start:
        refusals.append(
            f"YIYU_PERIOD_START ({period_start}) is after the as-of date ({as_of}, the latest"
            " event in the data): no period to evaluate"
        )
    elif "indicator_values" in marts:
        present = {
            r[0]
            for r in con.execute("SELECT DISTINCT period FROM marts.indicator_values").fetchall()
        }
        missing = [q for q in quarters(period_start, as_of) if q not in present]
        if missing:
            refusals.append(
                f"periods missing from marts.indicator_values: {', '.join(missing)}"
                f" (YIYU_PERIOD_START {period_start} to the as-of date {as_of})"
            )
    if table_exists(con, "audit", "file_audit"):
        broken = con.execute(
            "SELECT * FROM audit.file_audit WHERE rows_read IS DISTINCT FROM"
            " rows_loaded + rows_quarantined + rows_superseded"
        ).df()
        if len(broken):
            named = ", ".join(
                sorted(f"{r.source}/{r.file}" for r in broken.itertuples())[:5]
                if {"source", "file"} <= set(broken.columns)
                else [f"{len(broken)} files"]
            )
            refusals.append(
                "the audit equation rows_read = rows_loaded + rows_quarantined + rows_superseded"
                f" does not hold for {named}"
            )
    return refusals
