"""The settings of contract section 1, parsed and checked from an environment given at call time.

Entry points build them: the CLI with `Settings.from_env()`, Dagster runs through the
`settings` resource (pipelines/resources.py). Library code takes a `Settings` or the values.
A malformed or out-of-range value raises `SettingError`, whose message is the one line a
command prints before it stops (exit code 2).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TIMEZONE = "Asia/Shanghai"
MIN_SMALL_CELL_K = 2

# Settings field -> the environment variable that sets it (contract section 1).
ENV_VARS = {
    "raw_dir": "YIYU_RAW_DIR",
    "warehouse_path": "YIYU_WAREHOUSE_PATH",
    "as_of": "YIYU_AS_OF",
    "period_start": "YIYU_PERIOD_START",
    "district_code": "YIYU_DISTRICT_CODE",
    "district_name": "YIYU_DISTRICT_NAME",
    "small_cell_k": "YIYU_SMALL_CELL_K",
    "timezone": "YIYU_TIMEZONE",
    "duckdb_memory_limit": "YIYU_DUCKDB_MEMORY_LIMIT",
}


class SettingError(ValueError):
    """A setting that is malformed or out of range. The message is one line: the variable, its
    value (`value=None` for a secret, whose value is never shown) and what is expected."""

    def __init__(self, variable: str, value: object, expected: str):
        shown = "" if value is None else f"={str(value)!r}"
        super().__init__(f"{variable}{shown}: expected {expected}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse_path: Path
    as_of: date | None
    period_start: date
    district_code: str
    district_name: str
    small_cell_k: int
    duckdb_memory_limit: str
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings as `environ` (default: this process's environment, read now) gives
        them; an unset or empty variable takes the contract's default. Raises SettingError."""
        env = os.environ if environ is None else environ

        def value(field: str, default: str | None = None) -> str | None:
            return env.get(ENV_VARS[field]) or default

        as_of = _date("as_of", value("as_of"))
        period_start = _date("period_start", value("period_start", "2022-10-01"))
        if as_of is not None and period_start > as_of:
            raise SettingError(
                ENV_VARS["period_start"],
                period_start.isoformat(),
                f"a date on or before YIYU_AS_OF ({as_of.isoformat()})",
            )
        return cls(
            raw_dir=_path(value("raw_dir"), REPO_ROOT / "raw"),
            warehouse_path=_path(value("warehouse_path"), REPO_ROOT / "warehouse" / "yiyu.duckdb"),
            as_of=as_of,
            period_start=period_start,
            district_code=value("district_code", "330206"),
            district_name=value("district_name", "北仑区"),
            small_cell_k=_small_cell_k(value("small_cell_k", "5")),
            duckdb_memory_limit=_memory_limit(value("duckdb_memory_limit", "4GB")),
            timezone=_timezone(value("timezone", DEFAULT_TIMEZONE)),
        )

    def today(self) -> date:
        """Today in the settings' time zone (the after-today rule, the no-op check's day)."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    @property
    def warehouse_dir(self) -> Path:
        return self.warehouse_path.parent

    @property
    def work_db(self) -> Path:
        """Working state: row-level pseudonymised tables, identity, dbt models."""
        return self.warehouse_dir / "work.duckdb"

    @property
    def cache_dir(self) -> Path:
        return self.warehouse_dir / "cache"

    @property
    def spill_dir(self) -> Path:
        """Where DuckDB spills what does not fit in `duckdb_memory_limit`."""
        return self.warehouse_dir / "spill"


def check_landing_folder(raw_dir: Path, sources: Iterable[str] | None = None) -> None:
    """The landing folder exists and holds at least one source folder, else SettingError."""
    if sources is None:
        from pipelines.ingest.sources import SOURCES

        sources = SOURCES
    names = sorted(sources)
    if not raw_dir.is_dir():
        raise SettingError(ENV_VARS["raw_dir"], raw_dir, "an existing folder (the landing folder)")
    if not any((raw_dir / name).is_dir() for name in names):
        raise SettingError(
            ENV_VARS["raw_dir"], raw_dir, f"a folder holding a source folder ({', '.join(names)})"
        )


def timezone_from_env(environ: Mapping[str, str] | None = None) -> str:
    """YIYU_TIMEZONE alone (the schedule's zone), checked like the other settings."""
    env = os.environ if environ is None else environ
    return _timezone(env.get(ENV_VARS["timezone"]) or DEFAULT_TIMEZONE)


def _path(value: str | None, default: Path) -> Path:
    return Path(value).expanduser().resolve() if value else default


def _date(field: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SettingError(ENV_VARS[field], value, "an existing date as YYYY-MM-DD") from None


def _small_cell_k(value: str) -> int:
    expected = f"a whole number of at least {MIN_SMALL_CELL_K}"
    try:
        k = int(value)
    except ValueError:
        raise SettingError(ENV_VARS["small_cell_k"], value, expected) from None
    if k < MIN_SMALL_CELL_K:
        raise SettingError(ENV_VARS["small_cell_k"], value, expected)
    return k


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(
            ENV_VARS["timezone"], value, "an IANA time zone name such as Asia/Shanghai"
        ) from None
    return value


def _memory_limit(value: str) -> str:
    """`value` when DuckDB reads it as a memory limit (DuckDB is the judge of its syntax)."""
    import duckdb

    try:
        duckdb.connect(":memory:", config={"memory_limit": value}).close()
    except duckdb.Error:
        raise SettingError(
            ENV_VARS["duckdb_memory_limit"], value, "a size DuckDB reads, such as 4GB or 512MB"
        ) from None
    return value
