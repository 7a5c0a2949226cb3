"""What `yiyu refresh` shows a person: one line per stage, the run's warnings and failures, and
a closing summary. The facts come from the run's event records (Dagster's event log: the
assets' materialization metadata, the check evaluations, the step failures) and, for the
summary, from the working audit tables (run_log.audit_facts); the full event stream goes to
the run's log file (run_log.py).

On a terminal a live line shows the running step and the per-file progress ingestion logs;
anywhere else only plain lines are written, never an escape code.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy.exc import OperationalError

from pipelines.operations.outcome import safe_reason
from pipelines.operations.run_log import AuditFacts

if TYPE_CHECKING:
    import dagster as dg

INGESTED = "ingested"
IDENTITY = "identity"
PUBLISHED = "published_warehouse"
REPORT = "evaluation_report"
# dagster-dbt's metadata on the events of dbt's nodes.
DBT_NODE = "unique_id"
TOTALS = ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded")
PROGRESS = re.compile(r"\[(\d+)/(\d+)\]")
# Names listed in one summary line, files listed in the summary.
NAMES_LISTED = 5
FILES_LISTED = 10
LABEL = 18
# How often the live feed reads the run's new event records, in seconds.
FEED_EVERY = 0.25


def _values(metadata: Any) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in (metadata or {}).items()}


def _listed(names: list[str], limit: int = NAMES_LISTED) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


@dataclass
class Step:
    """The lines of one step, printed together when it ends."""

    head: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Facts:
    """What the run did, for the closing summary."""

    sources: list[str] = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)
    dbt_models: int = 0
    dbt_tests: dict[str, str] = field(default_factory=dict)  # unique id -> outcome
    failed_steps: list[str] = field(default_factory=list)
    published: str | None = None
    report: str | None = None


class Console:
    """Turns the run's event log entries into lines for a person on `stream`."""

    def __init__(self, stream: TextIO, live: bool) -> None:
        self.stream = stream
        self.facts = Facts()
        self._steps: dict[str, Step] = {}
        self._dbt_step: str | None = None
        self._progress = None
        self._task = None
        if live:
            from rich.console import Console as RichConsole
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            rich = RichConsole(file=stream, highlight=False, markup=False, emoji=False)
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=rich,
                transient=True,
                # This process's output goes to the run's log file (run_log.captured).
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._progress.add_task("starting", total=None)
            self._progress.start()

    def line(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def stage(self, label: str, text: str) -> None:
        self.line(f"{label:<{LABEL}}{text}")

    def _status(
        self, text: str, done: int | None = None, total: int | None = None, new: bool = False
    ) -> None:
        if self._progress is None:
            return
        if new:  # a new step: its own clock, no bar until it counts something
            self._progress.remove_task(self._task)
            self._task = self._progress.add_task(text, total=None)
        else:
            self._progress.update(self._task, description=text, completed=done, total=total)

    def close(self) -> None:
        for key in list(self._steps):
            self._end_step(key)
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # The event records of the run.

    def feed(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            self._message(entry)
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self._step(entry.step_key)
            self._status(f"running {entry.step_key}", new=True)
        elif kind == "ASSET_MATERIALIZATION":
            self._materialized(entry.step_key, event)
        elif kind == "ASSET_CHECK_EVALUATION":
            self._checked(entry.step_key, event.asset_check_evaluation_data)
        elif kind == "ASSET_OBSERVATION":
            observation = event.asset_observation_data.asset_observation
            self._dbt_test(_values(observation.metadata), None)
        elif kind == "STEP_FAILURE":
            self.facts.failed_steps.append(entry.step_key)
            reason = safe_reason(entry.step_key, event.step_failure_data.error)
            self._step(entry.step_key).notes.append(f"FAILED: {reason}")
            self._end_step(entry.step_key)
        elif kind == "STEP_SUCCESS":
            self._end_step(entry.step_key)

    def _step(self, key: str | None) -> Step:
        return self._steps.setdefault(key or "", Step())

    def _end_step(self, key: str | None) -> None:
        step = self._steps.pop(key or "", None)
        if step is None:
            return
        if key and key == self._dbt_step and self.facts.dbt_models:
            tests = Counter(self.facts.dbt_tests.values())
            step.head.append(
                f"{'dbt':<{LABEL}}{self.facts.dbt_models} models built, "
                f"{len(self.facts.dbt_tests)} tests: {tests['fail']} failed, "
                f"{tests['warn']} warned"
            )
        for text in step.head:
            self.line(text)
        for text in step.notes:
            self.line(f"  {text}" if step.head else text)

    def _message(self, entry: dg.EventLogEntry) -> None:
        # One line each: a longer message is whole in the log file.
        text = entry.user_message.strip().split("\n", 1)[0]
        if entry.level == logging.WARNING:
            if entry.step_key:
                self._step(entry.step_key).notes.append(f"WARNING: {text}")
            else:
                self.line(f"WARNING: {text}")
        elif entry.level == logging.INFO and entry.step_key:
            counted = PROGRESS.search(text)
            if counted:
                self._status(text, int(counted[1]), int(counted[2]))

    def _materialized(self, step_key: str | None, event: dg.DagsterEvent) -> None:
        materialization = event.step_materialization_data.materialization
        meta = _values(materialization.metadata)
        path = materialization.asset_key.path
        step = self._step(step_key)
        facts = self.facts
        if DBT_NODE in meta:
            facts.dbt_models += 1
            self._dbt_step = step_key
            self._status(f"dbt build: {facts.dbt_models} models built")
        elif path[0] == INGESTED:
            facts.sources.append(path[-1])
            facts.totals.update({k: int(meta.get(k, 0)) for k in TOTALS})
            rejected = int(meta.get("files_rejected", 0))
            files = f"{meta.get('files', 0)} files"
            files += f" ({rejected} rejected)" if rejected else ""
            step.head.append(
                f"{path[-1]:<{LABEL}}{files}: {int(meta.get('rows_loaded', 0)):,} rows loaded, "
                f"{int(meta.get('rows_quarantined', 0)):,} quarantined, "
                f"{int(meta.get('rows_superseded', 0)):,} superseded"
            )
        elif path[0] == IDENTITY:
            records = sum(v for k, v in meta.items() if k.startswith("records_"))
            step.head.append(
                f"{'identity':<{LABEL}}{meta.get('children', 0):,} children from {records:,} "
                f"records ({meta.get('ambiguous', 0)} ambiguous)"
            )
        elif path == [PUBLISHED]:
            facts.published = str(meta.get("path"))
            step.head.append(
                f"{'publish':<{LABEL}}gate passed, {meta.get('tables', 0)} tables published to "
                f"{facts.published}"
            )
        elif path == [REPORT]:
            facts.report = str(meta.get("path"))
            step.head.append(f"{'report':<{LABEL}}{facts.report}")

    def _checked(self, step_key: str | None, check: Any) -> None:
        meta = _values(check.metadata)
        if str(meta.get(DBT_NODE)).startswith("test."):
            self._dbt_test(meta, check)
            return
        name = f"{'/'.join(check.asset_key.path)} {check.check_name}"
        self._count(name, check)
        if not check.passed and check.description:
            step = self._step(step_key)
            # The quality checks log their failure as a warning already.
            if not any(n.endswith(check.description) for n in step.notes):
                level = "FAILED" if self._blocking(check) else "WARNING"
                step.notes.append(f"{level}: check {name}: {check.description}")

    @staticmethod
    def _blocking(check: Any) -> bool:
        return getattr(check.severity, "value", check.severity) == "ERROR"

    def _count(self, name: str, check: Any) -> None:
        if check.passed:
            self.facts.checks_passed += 1
        elif self._blocking(check):
            self.facts.checks_failed.append(name)
        else:
            self.facts.checks_warned.append(name)

    def _dbt_test(self, meta: dict[str, Any], check: Any) -> None:
        """A dbt test's result: an asset check, or an observation for a test on several."""
        node = meta.get(DBT_NODE)
        status = str(meta.get("status", "")).lower()
        if not str(node).startswith("test.") or not status or node in self.facts.dbt_tests:
            return
        outcome = {"pass": "pass", "success": "pass", "warn": "warn"}.get(status, "fail")
        self.facts.dbt_tests[node] = outcome
        # test.<project>.<name>[.<hash>]
        name = f"dbt test {check.check_name if check is not None else str(node).split('.')[2]}"
        if outcome == "pass":
            self.facts.checks_passed += 1
        else:
            (self.facts.checks_warned if outcome == "warn" else self.facts.checks_failed).append(
                name
            )

    def summary(
        self, succeeded: bool, seconds: float, run_id: str, audit: AuditFacts, log: Path
    ) -> None:
        """The checks' line, then the closing summary of the run."""
        facts = self.facts
        failed, warned = facts.checks_failed, facts.checks_warned
        evaluated = facts.checks_passed + len(failed) + len(warned)
        self.stage("checks", f"{evaluated} evaluated: {len(failed)} failed, {len(warned)} warned")
        status = "succeeded" if succeeded else "FAILED"
        self.line(f"refresh {status} in {seconds:.1f} s (run {run_id})")

        def item(label: str, text: str) -> None:
            self.line(f"  {label:<{LABEL}}{text}")

        item("published", facts.published or "nothing: the last good refresh stays published")
        if facts.failed_steps:
            item("failed", f"{_listed(facts.failed_steps)} (reasons above; later steps skipped)")
        if facts.sources:
            totals = facts.totals
            item(
                "rows",
                f"{totals['rows_read']:,} read: {totals['rows_loaded']:,} loaded, "
                f"{totals['rows_quarantined']:,} quarantined, "
                f"{totals['rows_superseded']:,} superseded",
            )
            # What the working audit says of the sources this run ingested.
            rejected = [f"{source}/{file}: {reason}" for source, file, reason in audit.rejected]
            withdrawn = [f"{source}/{file}" for source, file in audit.withdrawn]
            for label, files in (("rejected", rejected), ("withdrawn", withdrawn)):
                for text in files[:FILES_LISTED] or ["none"]:
                    item(label, text)
                if len(files) > FILES_LISTED:
                    item(label, f"and {len(files) - FILES_LISTED} more (audit.file_audit)")
            if audit.reasons:
                item("quarantine", ", ".join(f"{code} {n:,}" for code, n in audit.reasons))
        if failed:
            item("checks", f"failed: {_listed(failed)}")
        if warned:
            item("checks", f"warned: {_listed(warned)}")
        item("log", str(log))


@contextlib.contextmanager
def following(instance: dg.DagsterInstance, run_id: str, console: Console) -> Iterator[None]:
    """Feed `console` the run's event records while the block runs, and the rest after it."""
    cursor: list[str | None] = [None]

    def drain(again_later: bool = False) -> None:
        while True:
            try:
                connection = instance.get_records_for_run(run_id, cursor=cursor[0])
            except OperationalError:
                if again_later:  # a read that met the run's writer: the next tick reads again
                    return
                raise
            cursor[0] = connection.cursor
            for record in connection.records:
                console.feed(record.event_log_entry)
            if not connection.has_more:
                return

    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(FEED_EVERY):
            drain(again_later=True)

    feeder = threading.Thread(target=loop, name="yiyu-console", daemon=True)
    feeder.start()
    try:
        yield
    finally:
        stop.set()
        feeder.join()
        drain()
        console.close()
