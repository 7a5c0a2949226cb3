"""What a refresh leaves to read: its full log (Dagster's event stream and dbt's lines, as plain
text, in a file beside the warehouse: `<warehouse folder>/logs/refresh-<local time>-<run id
prefix>.log`) and, for its summary, the working audit tables' facts of the sources it ingested.

While the job runs, this process's stdout and stderr write into the log file (and, with
`--verbose`, to the console as well). The stream standing in for them is no terminal, so
Dagster's console logger writes no colour codes into it.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

LOGS = "logs"
PREFIX = "refresh-"
# Log files kept in the folder: about a month of nightly refreshes.
KEEP = 30
RUN_ID_CHARS = 8
# Quarantine reasons the summary shows.
TOP_REASONS = 5


def log_file(warehouse_dir: Path, run_id: str, timezone: str, now: datetime | None = None) -> Path:
    """The log file of run `run_id`, named by the local time (`timezone`) it starts."""
    stamp = (now or datetime.now(ZoneInfo(timezone))).strftime("%Y%m%d-%H%M%S")
    return warehouse_dir / LOGS / f"{PREFIX}{stamp}-{run_id[:RUN_ID_CHARS]}.log"


def prune(folder: Path, keep: int = KEEP) -> list[Path]:
    """Remove all but the `keep` newest refresh logs of `folder`; returns those removed."""
    logs = sorted(folder.glob(f"{PREFIX}*.log"), key=lambda p: (p.stat().st_mtime, p.name))
    removed = logs[: max(len(logs) - keep, 0)]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


class Tee(io.TextIOBase):
    """A text stream into the log file and, when `echo` is given, that stream too."""

    def __init__(self, file: TextIO, echo: TextIO | None = None) -> None:
        super().__init__()
        self._file = file
        self._echo = echo
        # Dagster's steps, dbt's reader thread and the event feed write concurrently.
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        with self._lock:
            self._file.write(text)
            if self._echo is not None:
                self._echo.write(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._file.flush()
            if self._echo is not None:
                self._echo.flush()


@contextlib.contextmanager
def captured(path: Path, echo: TextIO | None = None) -> Iterator[Tee]:
    """This process's stdout and stderr written into `path` (and `echo`) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", buffering=1) as file:
        tee = Tee(file, echo)
        with contextlib.redirect_stdout(tee), contextlib.redirect_stderr(tee):
            try:
                yield tee
            finally:
                tee.flush()


@dataclass(frozen=True)
class AuditFacts:
    """From the working audit tables, of the sources this run ingested: rejected files (source,
    file, reason), files withdrawn today (source, file), and the top quarantine reasons."""

    rejected: list[tuple[str, str, str]] = field(default_factory=list)
    withdrawn: list[tuple[str, str]] = field(default_factory=list)
    reasons: list[tuple[str, int]] = field(default_factory=list)


def audit_facts(work_db: Path, sources: list[str], today: date) -> AuditFacts:
    if not sources or not work_db.exists():
        return AuditFacts()
    import duckdb

    from pipelines.publish.publish import table_exists

    con = duckdb.connect(str(work_db), read_only=True)
    try:
        if not table_exists(con, "audit", "file_audit"):
            return AuditFacts()
        files = "SELECT source, file{} FROM audit.file_audit WHERE list_contains(?, source) AND "
        rejected = con.execute(
            files.format(", reject_reason") + "status = 'rejected' ORDER BY ALL", [sources]
        ).fetchall()
        withdrawn = con.execute(
            files.format("") + "status = 'withdrawn' AND withdrawn_on = ? ORDER BY ALL",
            [sources, today],
        ).fetchall()
        reasons = []
        if table_exists(con, "audit", "quarantine"):
            reasons = con.execute(
                "SELECT reason_code, count(*) AS n FROM audit.quarantine"
                " WHERE list_contains(?, source) GROUP BY reason_code ORDER BY n DESC, reason_code"
                " LIMIT ?",
                [sources, TOP_REASONS],
            ).fetchall()
    finally:
        con.close()
    return AuditFacts(rejected, withdrawn, reasons)
