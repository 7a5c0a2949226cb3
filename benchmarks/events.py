"""Wall time per step of a Dagster run, read back from the instance's event log.

Each step is named by what it materialised: an ingestion asset, the child index, the dbt
models, the published file, the report; a step that only evaluates checks is a quality
check step. dbt's own time per model comes from the materialisation metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

STEP_ENDS = {"STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"}


@dataclass
class Step:
    key: str
    start: float = 0.0
    end: float = 0.0
    status: str = ""
    assets: list[str] = field(default_factory=list)
    checks: int = 0
    # dbt's own per-model timing (dagster-dbt's "Execution Duration" metadata), seconds.
    model_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def stage(self) -> str:
        if not self.assets:
            return "quality checks" if self.checks else f"other ({self.key})"
        first = self.assets[0]
        if first.startswith("ingested/"):
            return "parse+validate " + first.removeprefix("ingested/")
        return {
            "identity/child_index": "identity",
            "published_warehouse": "publishing",
            "evaluation_report": "report",
        }.get(first, "dbt models")


@dataclass
class RunLog:
    run_id: str
    start: float
    end: float
    status: str
    steps: list[Step]

    @property
    def seconds(self) -> float:
        return self.end - self.start


def _plain(value: object) -> object:
    return getattr(value, "value", value)


def latest_run(dagster_home: Path) -> RunLog:
    """The newest run recorded under `dagster_home`, with its steps in start order."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.get_runs(limit=1)[0]
        entries = instance.all_logs(run.run_id)
    steps: dict[str, Step] = {}
    start = end = entries[0].timestamp
    for entry in entries:
        event = entry.dagster_event
        end = max(end, entry.timestamp)
        if event is None:
            continue
        kind = event.event_type_value
        if entry.step_key is None:
            continue
        step = steps.setdefault(entry.step_key, Step(entry.step_key))
        if kind == "STEP_START":
            step.start = entry.timestamp
        elif kind in STEP_ENDS:
            step.end, step.status = entry.timestamp, kind
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.step_materialization_data.materialization
            name = materialization.asset_key.to_user_string()
            step.assets.append(name)
            metadata = {k: _plain(v) for k, v in materialization.metadata.items()}
            if "Execution Duration" in metadata:
                step.model_seconds[name] = float(metadata["Execution Duration"])
        elif kind == "ASSET_CHECK_EVALUATION":
            step.checks += 1
    # Steps that never started (skipped after a failure) take no time.
    started = sorted((s for s in steps.values() if s.start), key=lambda s: s.start)
    return RunLog(run.run_id, start, end, run.status.value, started)
