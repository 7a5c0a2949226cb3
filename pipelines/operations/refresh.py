"""`yiyu refresh`: the refresh job of the code location, executed in this process.

It holds the warehouse folder's writer lock from before it compares the inputs with the last
good refresh until the run has ended (the run's resource takes the same lock again, in this
process, without waiting on itself).
"""

from __future__ import annotations

import sys
import time
import traceback
import uuid
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config import Settings
from pipelines.operations.fingerprint import (
    HASH_CACHE,
    look_at_raw,
    refresh_inputs,
    unchanged_since_last_refresh,
)
from pipelines.operations.guard import ACCEPT_WITHDRAWALS_TAG, TRIGGER_TAG
from pipelines.operations.lock import WarehouseBusy, writer_lock
from pipelines.operations.run_log import audit_facts, captured, log_file, prune

if TYPE_CHECKING:
    import dagster as dg

    from pipelines.operations.console import Console

BUSY = 3


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_refresh(
    settings: Settings,
    environ: MutableMapping[str, str],
    key: bytes,
    job_name: str = "refresh",
    force: bool = False,
    wait: bool = False,
    accept_withdrawals: bool = False,
    verbose: bool = False,
) -> int:
    """Run the job in this process unless nothing changed since the last good refresh.

    `settings`, `environ` (the process's environment: the run's resources and Dagster read
    it too) and `key` (the link secret) make up what the no-op check compares. Exit code: 0
    done or nothing to do, 1 failed or blocked, 3 another writer holds the warehouse folder
    (unless `wait`). The console shows a line per stage and a summary (console.py); the
    full event stream goes to the run's log file, and with `verbose` to the console too."""
    run_id = str(uuid.uuid4())
    try:
        with writer_lock(
            settings.warehouse_dir,
            "yiyu refresh",
            run_id,
            wait=wait,
            on_wait=lambda holder: _say(f"waiting: the warehouse folder is in use by {holder}"),
        ):
            return _refresh(
                settings, environ, key, job_name, force, accept_withdrawals, run_id, verbose
            )
    except WarehouseBusy as busy:
        _say(f"refresh not started: {busy}; run it again later, or with --wait")
        return BUSY


def _refresh(
    settings: Settings,
    environ: MutableMapping[str, str],
    key: bytes,
    job_name: str,
    force: bool,
    accept_withdrawals: bool,
    run_id: str,
    verbose: bool,
) -> int:
    started = time.perf_counter()
    look = look_at_raw(settings.raw_dir, settings.warehouse_dir / HASH_CACHE, save=True)
    inputs = refresh_inputs(settings, environ, key, look.content)
    last_run = None if force else unchanged_since_last_refresh(settings, inputs)
    if last_run is not None:
        _say(
            f"nothing new since refresh {last_run} (same raw files, code, settings and day): "
            "the published file stays as it is; --force runs the job anyway"
        )
        return 0
    from pipelines.operations.console import Console

    screen = sys.stderr
    console = Console(screen, live=screen.isatty() and not verbose)
    log = log_file(settings.warehouse_dir, run_id, settings.timezone)
    # dbt's lines reach the log file (and, verbose, the console) through this process.
    environ["DBT_USE_COLORS"] = "false"
    try:
        with captured(log, echo=screen if verbose else None):
            result = _execute(settings, environ, job_name, accept_withdrawals, run_id, console)
    except Exception as error:  # before the run started: dbt's parse, the definitions
        with log.open("a", encoding="utf-8") as file:
            traceback.print_exc(file=file)
        console.close()
        console.line(f"refresh FAILED before its run started ({type(error).__name__}): see {log}")
        return 1
    finally:
        console.close()
    prune(log.parent)
    audit = audit_facts(settings.work_db, console.facts.sources, settings.today())
    console.summary(result.success, time.perf_counter() - started, result.run_id, audit, log)
    return 0 if result.success else 1


def _execute(
    settings: Settings,
    environ: MutableMapping[str, str],
    job_name: str,
    accept_withdrawals: bool,
    run_id: str,
    console: Console,
) -> dg.ExecuteInProcessResult:
    """The job executed in this process, its event records fed to `console` as they come."""
    from pipelines.marts.dbt import ensure_manifest
    from pipelines.operations.console import following

    ensure_manifest(settings)  # a stale manifest is parsed with this build's settings
    from pipelines.definitions import defs

    job = defs.resolve_job_def(job_name)
    tags = {TRIGGER_TAG: "cli"}
    if accept_withdrawals:
        tags[ACCEPT_WITHDRAWALS_TAG] = "true"
    with (
        persistent_instance(settings, environ, console.line) as instance,
        following(instance, run_id, console),
    ):
        return job.execute_in_process(
            instance=instance, raise_on_error=False, run_id=run_id, tags=tags
        )


def persistent_instance(
    settings: Settings, environ: MutableMapping[str, str], say: Callable[[str], None] = _say
) -> dg.DagsterInstance:
    """Dagster's persistent instance in DAGSTER_HOME (default: `dagster/` beside the
    warehouse), laid with the project's configuration when it has none, so the runs show in
    the UI (`dev.sh ui`); a warning when that instance sends telemetry."""
    import dagster as dg

    from pipelines.operations.instance import ensure_instance, telemetry_warning

    home = Path(environ.setdefault("DAGSTER_HOME", str(settings.warehouse_dir / "dagster")))
    ensure_instance(home)
    warning = telemetry_warning(home)
    if warning is not None:
        say(warning)
    return dg.DagsterInstance.get()
