"""`yiyu refresh`: the refresh job of the code location, executed in this process.

It holds the warehouse folder's writer lock from before it compares the inputs with the last
good refresh until the run has ended (the run's resource takes the same lock again, in this
process, without waiting on itself).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import MutableMapping
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

if TYPE_CHECKING:
    import dagster as dg

BUSY = 3
# How Dagster logs a step it skips after an upstream failure.
SKIPPED_STEP = "Dependencies for step "


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
) -> int:
    """Run the job in this process unless nothing changed since the last good refresh.

    `settings`, `environ` (the process's environment: the run's resources and Dagster read
    it too) and `key` (the link secret) make up what the no-op check compares. Exit code: 0
    done or nothing to do, 1 failed or blocked, 3 another writer holds the warehouse folder
    (unless `wait`)."""
    run_id = str(uuid.uuid4())
    try:
        with writer_lock(
            settings.warehouse_dir,
            "yiyu refresh",
            run_id,
            wait=wait,
            on_wait=lambda holder: _say(f"waiting: the warehouse folder is in use by {holder}"),
        ):
            return _refresh(settings, environ, key, job_name, force, accept_withdrawals, run_id)
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
    from pipelines.marts.dbt import ensure_manifest

    ensure_manifest(settings)  # a stale manifest is parsed with this build's settings
    from pipelines.definitions import defs

    job = defs.resolve_job_def(job_name)
    tags = {TRIGGER_TAG: "cli"}
    if accept_withdrawals:
        tags[ACCEPT_WITHDRAWALS_TAG] = "true"
    with persistent_instance(settings, environ) as instance:
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_id=run_id, tags=tags
        )
        _report(instance, result)
    seconds = time.perf_counter() - started
    status = "succeeded" if result.success else "FAILED"
    _say(f"refresh {status} in {seconds:.1f} s (run {result.run_id})")
    return 0 if result.success else 1


def _report(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> None:
    """Failed steps, failed checks and the run's warnings, without quoting any row value."""
    import logging

    import dagster as dg

    from pipelines.operations.outcome import step_failures

    for _, reason in step_failures(instance, result.run_id):
        _say(f"FAILED: {reason}")
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            check = event.event_specific_data
            if not check.passed:
                level = "FAILED" if check.severity == dg.AssetCheckSeverity.ERROR else "WARNING"
                _say(f"{level}: {event.message}")
    for entry in instance.all_logs(result.run_id):
        said = entry.dagster_event is not None or entry.user_message.startswith(SKIPPED_STEP)
        if not said and entry.level >= logging.WARNING:
            _say(f"WARNING: {entry.user_message}")


def persistent_instance(
    settings: Settings, environ: MutableMapping[str, str]
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
        _say(warning)
    return dg.DagsterInstance.get()
