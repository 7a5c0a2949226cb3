"""`yiyu worklists`: the latest period's worklists, one XLSX per recipient, into an owner-only
folder, each file logged in `meta.worklist_exports`.

Everything that can refuse (the output folder, the private key, the writer lock, the
recipient, rows that disagree with the backlog, a key that does not match the handles) is
settled before the folder is created, so a refusal is one line and writes nothing. The
working state is only read, apart from the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipelines.config import Settings
from pipelines.ingest.handles import WorklistKeyError, decrypt_handles, load_private_key
from pipelines.operations.lock import WarehouseBusy, writer_lock
from pipelines.report.formatting import local_time
from pipelines.warehouse import work_db
from pipelines.worklists.files import (
    OutputFolderError,
    check_folder,
    make_folder,
    replace_owner_only,
)
from pipelines.worklists.log import ExportedFile, append_exports
from pipelines.worklists.rows import (
    NoWorklists,
    Recipient,
    RowsOutOfStep,
    UnknownRecipient,
    Worklists,
    read_worklists,
    with_handles,
)
from pipelines.worklists.sheets import Job, Notes, columns_of, workbooks

# Exit codes as the other commands use them: 1 what a person must fix (--out, --recipient, no
# worklists yet), 2 a bad setting or key, 3 another writer holds the warehouse.
REFUSED, BAD_SETTING, BUSY = 1, 2, 3
COMMAND = "yiyu worklists"


def run_worklists(
    settings: Settings,
    out: Path,
    recipient: str | None = None,
    echo: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> int:
    """Export the worklists; the exit code (0, or one line and REFUSED, BAD_SETTING, BUSY)."""
    try:
        key = load_private_key(settings.worklist_private_key)
    except WorklistKeyError as bad:
        warn(str(bad))
        return BAD_SETTING
    try:
        check_folder(out)
        if not settings.work_db.exists():
            raise NoWorklists(f"no working state at {settings.work_db}: run yiyu refresh first")
        with writer_lock(settings.warehouse_dir, COMMAND):
            return _export(settings, key, out, recipient, echo, warn)
    except WarehouseBusy as busy:
        warn(str(busy))
        return BUSY
    except WorklistKeyError as bad:
        warn(str(bad))
        return BAD_SETTING
    except (OutputFolderError, NoWorklists, RowsOutOfStep, UnknownRecipient) as refused:
        warn(str(refused))
        return REFUSED


def _export(settings: Settings, key, out: Path, recipient: str | None, echo, warn) -> int:
    # Read-only while the files are built: readers of the working state are not shut out.
    with work_db(settings, read_only=True) as con:
        lists = read_worklists(con, recipient)
    clear = decrypt_handles(settings.cache_dir, key, lists.wanted_handles())
    rows = with_handles(lists, clear)
    lost = rows.filter(pl.col("handle_key").is_not_null() & pl.col("handle").is_null()).height
    if lost:
        warn(f"warning: {lost} rows' handles are not in the cache: refresh, then export again")
    make_folder(out)
    generated = f"{local_time(datetime.now(UTC), settings.timezone)}（{settings.timezone}）"
    by_recipient = rows.partition_by("recipient_type", "recipient_code", as_dict=True)
    jobs = [_job(lists, by_recipient[code], generated) for code in sorted(by_recipient)]
    exported: list[ExportedFile] = []
    try:
        for (_, _, notes), data in zip(jobs, workbooks(jobs), strict=True):
            exported.append(_write_file(out, notes, data, echo))
    finally:  # every file written is logged, even when a later one fails
        with work_db(settings) as con:
            append_exports(con, exported, lists.refresh_run_id, lists.period_end)
    if not exported:
        echo(f"{lists.period}: no worklist rows, no file written")
    return 0


def _job(lists: Worklists, rows: pl.DataFrame, generated: str) -> Job:
    first = rows.row(0, named=True)
    recipient = Recipient(first["recipient_type"], first["recipient_code"], first["recipient_name"])
    notes = Notes(
        recipient=recipient,
        period=lists.period,
        period_end=lists.period_end,
        generated_at=generated,
        rows_by_reason=dict(rows.group_by("reason").len().iter_rows()),
        reasons=lists.reasons,
    )
    return rows, columns_of(recipient), notes


def _write_file(out: Path, notes: Notes, data: bytes, echo) -> ExportedFile:
    recipient = notes.recipient
    path = out / recipient.file_name
    replace_owner_only(path, data)
    rows = sum(notes.rows_by_reason.values())
    echo(f"{recipient.type} {recipient.code} {recipient.name}: {rows} rows -> {path}")
    return ExportedFile(recipient.code, notes.rows_by_reason, hashlib.sha256(data).hexdigest())
