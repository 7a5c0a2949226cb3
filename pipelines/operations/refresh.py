"""`yiyu refresh`: the refresh job of the code location, executed in this process."""

from __future__ import annotations

import sys
import time

from pipelines.operations.fingerprint import (
    refresh_inputs,
    remember_refresh,
    unchanged_since_last_refresh,
)
from pipelines.quality.ge import start_worker, stop_worker
from pipelines.quality.suites import start_parsing_suites


def run_refresh(job_name: str = "refresh", force: bool = False) -> int:
    started = time.perf_counter()
    inputs = refresh_inputs()
    last_run = None if force else unchanged_since_last_refresh(inputs)
    if last_run is not None:
        print(
            f"nothing new since refresh {last_run} (same raw files, code, settings and day): "
            "the published file stays as it is; --force runs the job anyway",
            file=sys.stderr,
        )
        return 0

    # GE imports on the other core while Dagster and dbt load here (seconds each).
    start_worker()
    start_parsing_suites()
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.marts.dbt import warm_dbt
    from pipelines.operations.dagster_storage import dagster_instance

    job = defs.resolve_job_def(job_name)
    try:
        # dbt imports and parses on the other core while the refresh ingests and checks.
        with dagster_instance() as instance, warm_dbt():
            result = job.execute_in_process(instance=instance, raise_on_error=False)
    finally:
        stop_worker()
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
        remember_refresh(inputs, result.run_id)
    status = "succeeded" if result.success else "FAILED"
    print(f"refresh {status} in {seconds:.1f} s (run {result.run_id})", file=sys.stderr)
    return 0 if result.success else 1
