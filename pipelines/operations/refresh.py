"""`yiyu refresh`: the refresh job of the code location, executed in this process."""

from __future__ import annotations

import sys
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config import Settings
from pipelines.operations.fingerprint import (
    refresh_inputs,
    remember_refresh,
    unchanged_since_last_refresh,
)

if TYPE_CHECKING:
    import dagster as dg


def run_refresh(
    settings: Settings,
    environ: MutableMapping[str, str],
    key: bytes,
    job_name: str = "refresh",
    force: bool = False,
) -> int:
    """Run the job in this process unless nothing changed since the last good refresh.

    `settings`, `environ` (the process's environment: the run's resources and Dagster read
    it too) and `key` (the link secret) make up what the no-op check compares. Exit code: 0
    done or nothing to do, 1 failed."""
    started = time.perf_counter()
    inputs = refresh_inputs(settings, environ, key)
    last_run = None if force else unchanged_since_last_refresh(settings, inputs)
    if last_run is not None:
        print(
            f"nothing new since refresh {last_run} (same raw files, code, settings and day): "
            "the published file stays as it is; --force runs the job anyway",
            file=sys.stderr,
        )
        return 0

    import dagster as dg

    from pipelines.marts.dbt import ensure_manifest

    ensure_manifest(settings)  # a stale manifest is parsed with this build's settings
    from pipelines.definitions import defs

    job = defs.resolve_job_def(job_name)
    with persistent_instance(settings, environ) as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    seconds = time.perf_counter() - started
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            reason = error.message.strip() if error else event.message
            print(f"FAILED: step {event.step_key}: {reason}", file=sys.stderr)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            check = event.event_specific_data
            if not check.passed:
                level = "FAILED" if check.severity == dg.AssetCheckSeverity.ERROR else "WARNING"
                print(f"{level}: {event.message}", file=sys.stderr)
    if result.success:
        remember_refresh(settings, inputs, result.run_id)
    status = "succeeded" if result.success else "FAILED"
    print(f"refresh {status} in {seconds:.1f} s (run {result.run_id})", file=sys.stderr)
    return 0 if result.success else 1


def persistent_instance(
    settings: Settings, environ: MutableMapping[str, str]
) -> dg.DagsterInstance:
    """Dagster's persistent instance in DAGSTER_HOME (default: `dagster/` beside the
    warehouse, created when missing), so the runs show in the UI (`dev.sh ui`)."""
    import dagster as dg

    home = Path(environ.setdefault("DAGSTER_HOME", str(settings.warehouse_dir / "dagster")))
    home.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()
