"""Frozen quarterly submissions (报送): vintages that survive every later refresh.

A submission copies the unsuppressed mart figures of one period, and the list of delivered
files at that moment, into `submissions.duckdb` beside the published file, a file the
refresh never touches. Vintages are only ever inserted: submitting a period again adds a new
version and leaves the earlier ones as they were, unless its figures are those of its last
version, when nothing is written. `revisions.py` compares the versions and the current marts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.report.formatting import DEFAULT_TIMEZONE, local_time
from pipelines.report.published import Published, read_published
from pipelines.report.revisions import revision_rows, revisions

_SCHEMA = """
create table if not exists vintages (
    vintage_id integer primary key, period varchar not null, version integer not null,
    submitted_at timestamp not null, period_end date, published_file varchar
);
"""
# Frozen tables whose rows make a version's figures (the files only explain revisions).
_FIGURES = ("vintage_indicator_values", "vintage_scorecard")
VINTAGE_HEADERS = ["季度", "版本", "报送时间", "报送时参考日", "状态"]
REVISION_HEADERS = ["季度", "比较", "指标", "范围", "修订前", "修订后", "原因"]
QUARTER = re.compile(r"\d{4}Q[1-4]")


@dataclass(frozen=True)
class Submitted:
    """What `submit` did: a new version, or nothing when the figures were unchanged."""

    period: str
    version: int  # the new version, or the unchanged one
    unchanged: bool
    store: Path

    @property
    def message(self) -> str:
        if self.unchanged:
            return f"{self.period} unchanged since version {self.version}: nothing written"
        return f"{self.period} submitted as version {self.version} in {self.store}"


def unknown_period(period: str, periods: pl.Series) -> str:
    """Why `period` cannot be submitted, naming the periods that can."""
    valid = ", ".join(periods.to_list()) or "none"
    if not QUARTER.fullmatch(period):
        return f"period {period!r} is not written as a quarter like 2023Q2; valid: {valid}"
    return f"period {period} is not in the published marts; valid: {valid}"


def check_period(period: str, published: Path) -> None:
    """ValueError, one line naming the valid periods, unless the published marts hold `period`."""
    periods = read_published(published).indicator_values["period"].unique().sort()
    if period not in periods:
        raise ValueError(unknown_period(period, periods))


def submissions_path(published: Path) -> Path:
    """Beside the published file."""
    return published.parent / "submissions.duckdb"


def submit(
    period: str, published: Path, store: Path | None = None, at: datetime | None = None
) -> Submitted:
    """Freeze `period` of the published marts as a new vintage submitted `at` (UTC; now by
    default), unless its figures equal its last version's."""
    data = read_published(published)
    values = data.indicator_values.filter(pl.col("period") == period)
    if values.is_empty():
        raise ValueError(unknown_period(period, data.indicator_values["period"].unique().sort()))
    frames = {
        "vintage_indicator_values": values,
        "vintage_scorecard": data.scorecard.filter(pl.col("period") == period),
        "vintage_files": _files(data),
    }
    store = store or submissions_path(published)
    last = _unchanged_version(store, period, frames)
    if last is not None:
        return Submitted(period, last, True, store)
    store.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(store))
    try:
        con.execute("begin")
        con.execute(_SCHEMA)
        vintage_id, version = con.execute(
            "select coalesce(max(vintage_id), 0) + 1,"
            " coalesce(max(version) filter (where period = ?), 0) + 1 from vintages",
            [period],
        ).fetchall()[0]
        submitted_at = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        con.execute(
            "insert into vintages values (?, ?, ?, ?, ?, ?)",
            [vintage_id, period, version, submitted_at, values["period_end"][0], str(data.path)],
        )
        for table, frame in frames.items():
            tagged = frame.with_columns(vintage_id=pl.lit(vintage_id, pl.Int32))
            con.register("frame", tagged)
            con.execute(f"create table if not exists {table} as select * from frame limit 0")
            con.execute(f"insert into {table} by name select * from frame")
            con.unregister("frame")
        con.execute("commit")
    finally:
        con.close()
    return Submitted(period, version, False, store)


def _files(data: Published) -> pl.DataFrame:
    if data.file_audit is not None:
        return data.file_audit.select("source", "file", "content_sha256")
    return pl.DataFrame(
        schema={"source": pl.String, "file": pl.String, "content_sha256": pl.String}
    )


def _unchanged_version(store: Path, period: str, frames: dict[str, pl.DataFrame]) -> int | None:
    """The last version of `period` when its frozen figures are row for row those given."""
    if not store.exists():
        return None
    con = duckdb.connect(str(store), read_only=True)
    try:
        last = con.execute(
            "select vintage_id, version from vintages where period = ?"
            " order by version desc limit 1",
            [period],
        ).fetchall()
        if not last:
            return None
        vintage_id, version = last[0]
        for table in _FIGURES:
            con.register("frame", frames[table])
            columns = ", ".join(f'"{c}"' for c in frames[table].columns)
            frozen = f"select {columns} from {table} where vintage_id = {int(vintage_id)}"
            differing = con.execute(
                f"select count(*) from ((select {columns} from frame except all {frozen})"
                f" union all ({frozen} except all select {columns} from frame))"
            ).fetchall()[0][0]
            con.unregister("frame")
            if differing:
                return None
        return version
    finally:
        con.close()


def read_vintages(store: Path) -> dict[str, pl.DataFrame]:
    """All stored tables by name (empty dict when nothing was ever submitted)."""
    if not store.exists():
        return {}
    con = duckdb.connect(str(store), read_only=True)
    try:
        names = [
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        ]
        return {name: con.sql(f"select * from {name}").pl() for name in names}
    finally:
        con.close()


def vintage_rows(
    vintages: dict[str, pl.DataFrame], timezone: str = DEFAULT_TIMEZONE
) -> list[list[str]]:
    """Every version of every submitted quarter, submission times in `timezone`."""
    if not vintages:
        return []
    table = vintages["vintages"].sort("period", "version")
    latest = table.group_by("period").agg(pl.col("version").max().alias("latest"))
    rows = []
    for r in table.join(latest, on="period").sort("period", "version").iter_rows(named=True):
        later = r["version"] + 1
        rows.append(
            [
                r["period"],
                str(r["version"]),
                local_time(r["submitted_at"], timezone),
                str(r["period_end"]),
                "最新" if r["version"] == r["latest"] else f"已由版本 {later} 更正",
            ]
        )
    return rows


def list_submissions(
    published: Path, k: int, timezone: str = DEFAULT_TIMEZONE, store: Path | None = None
) -> str:
    """`yiyu submissions`: every vintage and every revision, as the report shows them."""
    store = store or submissions_path(published)
    vintages = read_vintages(store)
    if not vintages:
        return f"no submission yet in {store} (yiyu submit --period 2023Q2)"
    data = read_published(published)
    lines = [f"{store} ({timezone})", _line(VINTAGE_HEADERS)]
    lines += [_line(row) for row in vintage_rows(vintages, timezone)]
    revised = revision_rows(data, revisions(data, vintages, k))
    lines += ["", f"修订 {len(revised)} 处（小单元已抑制，k = {k}）"]
    if revised:
        lines += [_line(REVISION_HEADERS)] + [_line(row) for row in revised]
    return "\n".join(lines)


def _line(cells: list[str]) -> str:
    return " | ".join(cells)
