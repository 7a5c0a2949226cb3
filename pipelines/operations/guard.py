"""What every Dagster run of the code location does first and last, whoever started it (the
CLI, the schedule, the sensor, the UI): contract section 7.

First: hold the warehouse folder's writer lock (waiting behind another writer), remove the
spill files a killed run left, settle the rows of runs that never ended, record this run's
start and mark the last good refresh as no longer current. Last: record the outcome and its
reason, remove the spill files, release the lock.

A run's resources are set up more than once (a nested resource is its own copy), so the state
of a run lives here, by run id, and the first setup and the last teardown do the work.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pipelines.config import Settings
from pipelines.operations.fingerprint import (
    HASH_CACHE,
    code_version,
    look_at_raw,
    mark_dirty,
    refresh_inputs,
)
from pipelines.operations.lock import writer_lock
from pipelines.operations.outcome import run_outcome
from pipelines.publish.run_history import RunStart, finish_run, settle_unfinished, start_run
from pipelines.warehouse import work_db
from pipelines.worklists.log import ensure_log

REFRESH_JOB = "refresh"
TRIGGER_TAG = "yiyu/trigger"
ACCEPT_WITHDRAWALS_TAG = "yiyu/accept_withdrawals"
TRIGGERS = ("cli", "schedule", "sensor", "ui")


@dataclass
class RunState:
    config: Settings
    run_id: str
    full_job: bool  # the whole refresh job: it may become the last good refresh
    accept_withdrawals: bool
    raw: dict[str, str]  # the landing folder's content when the run started
    inputs: str | None  # refresh_inputs() of a whole-job run
    published_at: datetime | None = None  # set by the publish step after the swap
    holds: int = 1
    exit: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


_runs: dict[str, RunState] = {}


def trigger_of(tags: Mapping[str, str]) -> str:
    if tags.get(TRIGGER_TAG) in TRIGGERS:
        return tags[TRIGGER_TAG]
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return "sensor"
    return "ui"


def is_full_job(run: dg.DagsterRun) -> bool:
    return run.job_name == REFRESH_JOB and not run.asset_selection


def reads_raw(run: dg.DagsterRun) -> bool:
    """Whether the run ingests (so its landing folder must be checked)."""
    selection = run.asset_selection
    return not selection or any(key.path[0] == "ingested" for key in selection)


def landing_warnings(raw_dir: Path) -> list[str]:
    """What of the landing folder is not read, and why (contract section 7)."""
    from pipelines.ingest.readers.discovery import outside_links, unknown_source_folders

    warnings = [
        f"{path.relative_to(raw_dir).as_posix()} links outside YIYU_RAW_DIR: skipped"
        for path in outside_links(raw_dir)
    ]
    warnings += [
        f"{name}/ in YIYU_RAW_DIR is no source folder: its files are not read"
        " (a misspelled source folder?)"
        for name in unknown_source_folders(raw_dir)
    ]
    return warnings


def clear_spill(config: Settings) -> None:
    """DuckDB's spill files: left only by a process that ended without closing DuckDB."""
    if config.spill_dir.is_dir():
        for entry in config.spill_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def begin_run(
    config: Settings,
    run: dg.DagsterRun,
    environ: Mapping[str, str],
    link_key: Callable[[], bytes],
    log: Callable[[str], None],
) -> RunState:
    """The start of `run` (once per run however often it is called; see the module doc)."""
    state = _runs.get(run.run_id)
    if state is not None:
        state.holds += 1
        return state
    trigger = trigger_of(run.tags)
    full = is_full_job(run)
    state = RunState(
        config,
        run.run_id,
        full,
        accept_withdrawals=run.tags.get(ACCEPT_WITHDRAWALS_TAG) == "true",
        raw={},
        inputs=None,
    )
    state.exit.enter_context(
        writer_lock(
            config.warehouse_dir,
            f"dagster run of {run.job_name} ({trigger})",
            run.run_id,
            wait=True,
            on_wait=lambda holder: log(f"waiting for the warehouse folder, in use by {holder}"),
        )
    )
    try:
        clear_spill(config)
        state.raw = look_at_raw(
            config.raw_dir, config.warehouse_dir / HASH_CACHE, save=True
        ).content
        if full:
            state.inputs = refresh_inputs(config, environ, link_key(), state.raw)
        mark_dirty(config, run.run_id)
        with work_db(config) as con:
            for killed in settle_unfinished(con, config.warehouse_path, run.run_id):
                log(f"run {killed} ended without finishing: recorded as killed")
            start_run(con, RunStart(run.run_id, trigger, code_version(), datetime.now(UTC)))
            ensure_log(con)  # the export log is published (empty) from the first refresh
    except BaseException:
        state.exit.close()
        raise
    _runs[run.run_id] = state
    return state


def current_run(run_id: str) -> RunState | None:
    return _runs.get(run_id)


def end_run(run_id: str, instance: dg.DagsterInstance) -> None:
    """The end of the run (the last of its begin_run() calls): outcome, spill, lock."""
    state = _runs.get(run_id)
    if state is None:
        return
    state.holds -= 1
    if state.holds:
        return
    del _runs[run_id]
    with state.exit:
        outcome, reason = run_outcome(instance, run_id, state.published_at is not None)
        with work_db(state.config) as con:
            finish_run(con, run_id, outcome, reason, state.published_at)
        clear_spill(state.config)
