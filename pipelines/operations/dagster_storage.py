"""The Dagster instance of `yiyu refresh`, with an event log that keeps its connections.

Dagster's SQLite event log creates a SQLAlchemy engine, connects and disposes of it for
every event it stores, so nothing is cached between events (compiled statements, table
reflection). A district refresh stores about 600 events: that set-up cost about 3 of the
5 seconds spent on them. `PooledSqliteEventLogStorage` keeps the engines of the few
database files in use (the run's file and the index). Files, schema and locking are
Dagster's own, so the UI and the daemon read the same history with Dagster's default class.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)

from pipelines.config import settings

# The index file, the run being written and a few read by the UI; older engines are closed.
ENGINES_KEPT = 4
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with one engine (and its connection pool) per open file."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        # Not _db_lock: Dagster calls has_table() while it holds that lock in _connect().
        self._engines_lock = threading.RLock()
        super().__init__(base_dir, inst_data)  # connects when it creates the index

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> sa.Engine:
        with self._engines_lock:
            engine = self._engines.pop(shard, None) or sa.create_engine(
                self.conn_string_for_shard(shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            self._engines[shard] = engine  # most recently used last
            while len(self._engines) > ENGINES_KEPT:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        return sa.inspect(self._engine(INDEX_SHARD_NAME)).has_table(table_name)

    def dispose(self) -> None:
        super().dispose()
        with self._engines_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()


def dagster_instance() -> dg.DagsterInstance:
    """The persistent instance in DAGSTER_HOME (default: beside the warehouse), so runs show
    in the UI (`dev.sh ui`). Its event log is the pooled one unless the home's dagster.yaml
    chooses a storage itself."""
    home = os.environ.setdefault("DAGSTER_HOME", str(settings().warehouse_dir / "dagster"))
    os.makedirs(home, exist_ok=True)
    configured, _ = dagster_instance_config(home)
    if any(configured.get(key) for key in STORAGE_KEYS):
        return dg.DagsterInstance.from_ref(InstanceRef.from_dir(home))
    # Where Dagster's default SQLite storage keeps the event log (DagsterSqliteStorage).
    event_log = {
        "module": __name__,
        "class": PooledSqliteEventLogStorage.__name__,
        "config": {"base_dir": str(Path(home) / "history" / "runs")},
    }
    ref = InstanceRef.from_dir(home, overrides={"event_log_storage": event_log})
    return dg.DagsterInstance.from_ref(ref)
