"""Settings from the environment (contract section 1), read at call time so tests can set them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


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


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def settings() -> Settings:
    as_of = os.environ.get("YIYU_AS_OF")
    return Settings(
        raw_dir=_path("YIYU_RAW_DIR", REPO_ROOT / "raw"),
        warehouse_path=_path("YIYU_WAREHOUSE_PATH", REPO_ROOT / "warehouse" / "yiyu.duckdb"),
        as_of=date.fromisoformat(as_of) if as_of else None,
        period_start=date.fromisoformat(os.environ.get("YIYU_PERIOD_START", "2022-10-01")),
        district_code=os.environ.get("YIYU_DISTRICT_CODE", "330206"),
        district_name=os.environ.get("YIYU_DISTRICT_NAME", "北仑区"),
        small_cell_k=int(os.environ.get("YIYU_SMALL_CELL_K", "5")),
        duckdb_memory_limit=os.environ.get("YIYU_DUCKDB_MEMORY_LIMIT", "4GB"),
    )
