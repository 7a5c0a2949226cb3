"""Reading the published DuckDB file (read-only) and turning it into publishable tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.report.definitions import Indicators
from pipelines.report.streets import protected_assessment, protected_ranking
from pipelines.report.suppression import suppress, suppress_backlog, suppress_scorecard


class PublishedFileError(ValueError):
    """The published file lacks what the report needs; the message is one line."""


@dataclass(frozen=True)
class Published:
    """The tables of the published file the report needs; optional ones may be None."""

    path: Path
    indicators: Indicators
    indicator_values: pl.DataFrame
    scorecard: pl.DataFrame
    linkage_quality: pl.DataFrame | None
    file_audit: pl.DataFrame | None
    quarantine: pl.DataFrame | None
    check_results: pl.DataFrame | None
    street_assessment: pl.DataFrame | None = None
    street_ranking: pl.DataFrame | None = None
    follow_up_backlog: pl.DataFrame | None = None

    @property
    def as_of_period(self) -> str:
        return self.indicator_values.sort("period_end")["period"][-1]

    def protected_values(self, k: int, values: pl.DataFrame | None = None) -> pl.DataFrame:
        """District and street indicator values (by default the file's) with small cells of
        people suppressed."""
        return suppress(
            self.indicator_values if values is None else values, k, self.indicators.people
        )

    def protected_scorecard(self, k: int) -> pl.DataFrame:
        return suppress_scorecard(self.scorecard, self.indicator_values, k, self.indicators.people)

    def protected_streets(self, k: int) -> tuple[pl.DataFrame, pl.DataFrame] | None:
        """The street assessment and ranking with the cells hidden that the suppressed
        indicator values hide; None when the file has no street tables."""
        if self.street_assessment is None or self.street_ranking is None:
            return None
        assessment = protected_assessment(self.street_assessment, self.protected_values(k))
        ranking = protected_ranking(self.street_ranking, assessment, self.indicators)
        return assessment, ranking

    def protected_backlog(self, k: int) -> pl.DataFrame | None:
        """The follow-up backlog with small cells hidden; None when the file has none."""
        if self.follow_up_backlog is None:
            return None
        return suppress_backlog(
            self.follow_up_backlog, self.indicator_values, k, self.indicators.people
        )


def _table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> pl.DataFrame | None:
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()[0][0]
    return con.sql(f'select * from "{schema}"."{name}"').pl() if exists else None


def read_published(path: Path) -> Published:
    if not path.is_file():
        raise PublishedFileError(f"no published warehouse at {path}: run `yiyu refresh` first")
    con = duckdb.connect(str(path), read_only=True)
    try:
        values = _table(con, "marts", "indicator_values")
        scorecard = _table(con, "marts", "evaluation_scorecard")
        if values is None or scorecard is None or values.is_empty():
            raise PublishedFileError(
                f"{path} holds no marts.indicator_values / marts.evaluation_scorecard"
                " (run `yiyu refresh`)"
            )
        indicators = _table(con, "marts", "indicators")
        if indicators is None:
            raise PublishedFileError(
                f"{path} has no marts.indicators (written by an older version): run `yiyu refresh`"
            )
        return Published(
            path=path,
            indicators=Indicators.from_frame(indicators),
            indicator_values=values,
            scorecard=scorecard,
            linkage_quality=_table(con, "marts", "linkage_quality"),
            file_audit=_table(con, "audit", "file_audit"),
            quarantine=_table(con, "audit", "quarantine"),
            check_results=_table(con, "quality", "check_results"),
            street_assessment=_table(con, "marts", "street_assessment"),
            street_ranking=_table(con, "marts", "street_ranking"),
            follow_up_backlog=_table(con, "marts", "follow_up_backlog"),
        )
    finally:
        con.close()
