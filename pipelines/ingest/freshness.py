"""Freshness: how long since a source last received a file, against its declared cadence."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.ingest.readers import discover
from pipelines.ingest.sources import Source


@dataclass(frozen=True)
class Freshness:
    newest_file: str | None
    age_days: float | None
    expected_every_days: int
    optional: bool = False

    @property
    def fresh(self) -> bool:
        if self.age_days is None:
            return self.optional
        return self.age_days <= self.expected_every_days

    def describe(self) -> str:
        if self.newest_file is None and self.optional:
            return "no file delivered (an optional register)"
        if self.newest_file is None:
            return f"no file delivered (expected every {self.expected_every_days} days)"
        return (
            f"newest file {self.newest_file} landed {self.age_days:.1f} days ago "
            f"(expected every {self.expected_every_days} days)"
        )


def freshness(source: Source, source_dir: Path, now: float | None = None) -> Freshness:
    files = discover(source_dir)
    if not files:
        return Freshness(None, None, source.expected_every_days, source.optional)
    newest = max(files, key=lambda p: p.stat().st_mtime)
    age = ((now or time.time()) - newest.stat().st_mtime) / 86400
    rel = newest.relative_to(source_dir).as_posix()
    return Freshness(rel, age, source.expected_every_days, source.optional)


def record_freshness(con, run, source: Source, fresh: Freshness) -> None:
    """Keep the verdict in the quality history too (dataset `raw/<source>`), so a source that
    stops arriving shows there as a new, persisting or resolved problem."""
    from pipelines.quality.history import ensure_tables, record
    from pipelines.quality.suites import CheckOutcome

    outcome = CheckOutcome(
        check_name="freshness",
        dataset=f"raw/{source.name}",
        severity="warn",
        dimension="timeliness",
        passed=fresh.fresh,
        observed_value="no file" if fresh.age_days is None else f"{fresh.age_days:.1f} days",
        expected=f"<= {fresh.expected_every_days} days",
        evaluated_on="raw files",
    )
    ensure_tables(con)
    record(con, run, outcome.dataset, [outcome])
