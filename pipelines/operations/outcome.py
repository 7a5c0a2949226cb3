"""A run's outcome and its reason, in words safe to print, log and publish.

An error's own text may quote a value from a row (a cast error quotes the cell): it is shown
only for the errors this project raises with vetted messages, or Dagster's blocking-check
failure (check names only); any other error is named by its type and step.
"""

from __future__ import annotations

import dagster as dg

from pipelines.publish.run_history import BLOCKED, FAILED, PUBLISHED, SUCCEEDED

# Errors whose message is written by this project (or names checks only).
SAFE_ERRORS = {
    "Failure",
    "DagsterAssetCheckFailedError",
    "InjectedFault",
    "PublishRefused",
    "WorklistKeyError",
    "NotEnoughSpace",
    "OutOfMemory",
    "SettingError",
    "WeakKeyError",
    "WarehouseBusy",
}
# Failures that are a refusal to publish, not a fault: the run is `blocked`.
REFUSALS = {"DagsterAssetCheckFailedError", "PublishRefused"}
MAX_REASON_CHARS = 2000


def _cause(error: dg.SerializableErrorInfo) -> dg.SerializableErrorInfo:
    """The user code's error inside Dagster's step-execution wrapper."""
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    return error


def safe_reason(step: str | None, error: dg.SerializableErrorInfo | None) -> str:
    where = f"step {step}" if step else "the run"
    if error is None:
        return f"{where} failed"
    error = _cause(error)
    if error.cls_name not in SAFE_ERRORS:
        return (
            f"{where} failed with {error.cls_name}"
            " (details in the run's log: logs/ beside the warehouse, or the Dagster UI)"
        )
    lines = [line.strip() for line in error.message.strip().splitlines() if line.strip()]
    text = " ".join(lines)
    head, sep, rest = text.partition(": ")
    if sep and head.rsplit(".", 1)[-1] == error.cls_name:
        text = rest  # "module.Class: message" -> "message"
    return f"{where}: {text}"


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(error type, safe reason) of each failed step of the run, in order."""
    failures = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = entry.dagster_event.step_failure_data.error
        kind = _cause(error).cls_name if error else "unknown"
        failures.append((kind, safe_reason(entry.step_key, error)))
    return failures


def run_outcome(
    instance: dg.DagsterInstance, run_id: str, published: bool
) -> tuple[str, str | None]:
    """`published`; else `blocked` (a blocking check or the publish gate refused), `failed`
    (any other failure) or `succeeded` (a run of some assets, without the publish step)."""
    if published:
        return PUBLISHED, None
    failures = step_failures(instance, run_id)
    if not failures:
        return SUCCEEDED, None
    outcome = BLOCKED if all(kind in REFUSALS for kind, _ in failures) else FAILED
    return outcome, "; ".join(reason for _, reason in failures)[:MAX_REASON_CHARS]
