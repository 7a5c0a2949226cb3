"""The settings of contract section 1, parsed from an environment given at call time.

Entry points build them: the CLI with `Settings.from_env()`, Dagster runs through the
`settings` resource (pipelines/resources.py). Library code takes a `Settings` or the values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Settings field -> the environment variable that sets it (contract section 1).
ENV_VARS = {
    "raw_dir": "YIYU_RAW_DIR",
    "warehouse_path": "YIYU_WAREHOUSE_PATH",
    "as_of": "YIYU_AS_OF",
    "period_start": "YIYU_PERIOD_START",
    "district_code": "YIYU_DISTRICT_CODE",
    "district_name": "YIYU_DISTRICT_NAME",
    "small_cell_k": "YIYU_SMALL_CELL_K",
    "duckdb_memory_limit": "YIYU_DUCKDB_MEMORY_LIMIT",
}


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings as `environ` (default: this process's environment, read now) gives
        them; an unset variable takes the contract's default (an empty path or date too)."""
        env = os.environ if environ is None else environ

        def value(field: str, default: str | None = None) -> str | None:
            return env.get(ENV_VARS[field], default)

        as_of = value("as_of")
        return cls(
            raw_dir=_path(value("raw_dir"), REPO_ROOT / "raw"),
            warehouse_path=_path(value("warehouse_path"), REPO_ROOT / "warehouse" / "yiyu.duckdb"),
            as_of=date.fromisoformat(as_of) if as_of else None,
            period_start=date.fromisoformat(value("period_start", "2022-10-01")),
            district_code=value("district_code", "330206"),
            district_name=value("district_name", "北仑区"),
            small_cell_k=int(value("small_cell_k", "5")),
            duckdb_memory_limit=value("duckdb_memory_limit", "4GB"),
        )

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


def _path(value: str | None, default: Path) -> Path:
    return Path(value).expanduser().resolve() if value else default
