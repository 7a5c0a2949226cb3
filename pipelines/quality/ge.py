"""Great Expectations in a worker process of its own: it parses the suites and validates frames.

Importing GE costs seconds of single-core CPU (pandas, scipy, altair, SQLAlchemy, ...): in the
refresh's own process it would sit on the critical path, and a thread importing it shares the
GIL with ingestion. A worker process imports it on the other core instead. One worker serves
a process; in a Dagster run the `quality` resource (pipelines/resources.py) starts it when the
run starts and stops it when the run ends (start_worker(), stop_worker()); any other caller
starts it at the first suite it loads. The rest of the code sees only plain data (`Rule`,
`RuleResult`).
"""

from __future__ import annotations

import atexit
import functools
import json
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Rule:
    """One expectation of a suite, as GE parsed it."""

    expectation_type: str
    kwargs: dict[str, Any]  # as written in the suite (GE's unset arguments left out)
    meta: dict[str, Any]
    domain: str | None  # GE's domain type: column, column_pair, multicolumn, table
    config: dict[str, Any]  # GE's own JSON form, to validate it again


@dataclass(frozen=True)
class RuleResult:
    """A GE validation result without row data: count-only summary and whether GE failed."""

    success: bool
    observed: str
    raised: bool


def parse_suite(text: str) -> tuple[list[Rule], dict[str, Any]]:
    """The expectations and meta of a suite file's text, validated by GE (in the worker)."""
    return start_parsing(text).result()


def start_parsing(text: str) -> Future[tuple[list[Rule], dict[str, Any]]]:
    """parse_suite(), started in the worker; a text parsed before is not parsed again (until
    the worker stops), so a check does not wait behind a validation to read its suite."""
    if text not in _parsed:
        _parsed[text] = _worker().submit(_parse_suite, text)
    return _parsed[text]


def validate(frame: pd.DataFrame, name: str, rules: list[Rule]) -> list[RuleResult]:
    """GE validation of `frame`, one result per rule in the order given (in the worker)."""
    return validation(frame, name, rules).result()


def validation(frame: pd.DataFrame, name: str, rules: list[Rule]) -> Future[list[RuleResult]]:
    """validate(), started in the worker: the caller goes on while GE works on the other core."""
    if not rules:
        done: Future[list[RuleResult]] = Future()
        done.set_result([])
        return done
    return _worker().submit(_validate, frame, name, [r.config for r in rules])


def start_worker() -> None:
    """Start the worker and its GE import now, so it is ready when the first check runs."""
    _worker().submit(_warm_up)


def stop_worker() -> None:
    if _worker.cache_info().currsize:
        _worker().shutdown(wait=True)
        _worker.cache_clear()
    _parsed.clear()


# Suite texts -> their parse (start_parsing()).
_parsed: dict[str, Future[tuple[list[Rule], dict[str, Any]]]] = {}


@functools.cache
def _worker() -> ProcessPoolExecutor:
    # spawn: a fresh interpreter, nothing inherited from a process that runs Dagster threads
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init
    )


# Below: runs in the worker.


def _worker_init() -> None:
    """Once told to stop, end without tearing down GE's modules (slow, and nothing here holds
    a file or state to save). End too when the refresh's process dies without stopping it
    (killed): a pool worker would otherwise wait for work for ever."""
    atexit.register(os._exit, 0)
    parent = multiprocessing.parent_process()

    def exit_with_parent() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=exit_with_parent, daemon=True).start()


def _warm_up() -> None:
    _context()  # imports GE; returns nothing (a module cannot be sent back)


def _great_expectations() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage statistics
    import great_expectations

    return great_expectations


@functools.cache
def _context() -> Any:
    """The worker's ephemeral GE data context (no files, no progress bars)."""
    gx = _great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def _parse_suite(text: str) -> tuple[list[Rule], dict[str, Any]]:
    gx = _great_expectations()
    try:
        suite = gx.ExpectationSuite(**json.loads(text))
    except Exception as invalid:  # GE's own exception types would need GE to unpickle
        raise ValueError(f"{type(invalid).__name__}: {invalid}") from None
    rules = [
        Rule(
            expectation_type=e.expectation_type,
            kwargs={k: v for k, v in e.configuration.kwargs.items() if v is not None},
            meta=dict(e.meta or {}),
            domain=getattr(getattr(e, "domain_type", None), "value", None),
            config=e.configuration.to_json_dict(),
        )
        for e in suite.expectations
    ]
    return rules, dict(suite.meta or {})


def _validate(frame: pd.DataFrame, name: str, configs: list[dict[str, Any]]) -> list[RuleResult]:
    gx = _great_expectations()
    sources = _context().data_sources
    source = sources.add_pandas("quality")
    try:
        batch = (
            source.add_dataframe_asset(name)
            .add_batch_definition_whole_dataframe("rows")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        suite = gx.ExpectationSuite(name=name, expectations=configs)
        result = batch.validate(suite, result_format="BASIC")
    finally:
        sources.delete("quality")  # its execution engine would keep the frame alive
    by_name = {r.expectation_config.meta["name"]: r for r in result.results}
    return [_summary(by_name[c["meta"]["name"]]) for c in configs]


def _summary(result: Any) -> RuleResult:
    """A count-only summary of a GE result: never the unexpected values themselves."""
    if result.exception_info and result.exception_info.get("raised_exception"):
        message = str(result.exception_info.get("exception_message", "")).splitlines()[0]
        return RuleResult(False, f"not evaluable: {message[:200]}", raised=True)
    details = result.result or {}
    if "unexpected_count" in details:
        checked = details.get("element_count", 0) - details.get("missing_count", 0)
        percent = details.get("unexpected_percent") or 0.0
        observed = f"{details['unexpected_count']} of {checked} values unexpected ({percent:.2f}%)"
    else:
        observed = f"observed {details.get('observed_value')}"
    return RuleResult(bool(result.success), observed, raised=False)
