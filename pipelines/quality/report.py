"""A self-contained HTML page of one run's check results (our equivalent of GE Data Docs):
`<warehouse dir>/quality/<run_id>.html`, copied to `latest.html`."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import jinja2

# Autoescaped: check names, observed values and expectations are data.
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("pipelines.quality"), autoescape=True, keep_trailing_newline=True
)

COLUMNS = (
    "check_name",
    "severity",
    "dimension",
    "passed",
    "status_change",
    "observed_value",
    "expected",
    "evaluated_on",
)


def report_dir(warehouse_dir: Path) -> Path:
    """Where the pages of the warehouse in `warehouse_dir` are written."""
    return warehouse_dir / "quality"


def run_report_page(warehouse_dir: Path, run_id: str) -> Path:
    return report_dir(warehouse_dir) / f"{run_id}.html"


def write_run_report(con: duckdb.DuckDBPyConnection, run_id: str, warehouse_dir: Path) -> Path:
    """(Re)write the page of `run_id` from everything recorded for it so far."""
    rows = con.execute(
        f"select dataset, run_started_at, {', '.join(COLUMNS)} from quality.check_results"
        " where run_id = ? order by dataset, passed, severity, check_name",
        [run_id],
    ).fetchall()
    page = _page(run_id, rows)
    path = run_report_page(warehouse_dir, run_id)
    out = path.parent
    out.mkdir(parents=True, exist_ok=True)
    for target in (path, out / "latest.html"):
        tmp = target.with_suffix(".html.tmp")
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)
    return path


def _page(run_id: str, rows: list[tuple]) -> str:
    records = [dict(zip(("dataset", "run_started_at", *COLUMNS), row, strict=True)) for row in rows]
    failed = [r for r in records if not r["passed"]]
    by_dataset: dict[str, list[dict]] = {}
    for record in records:
        by_dataset.setdefault(record["dataset"], []).append(record)
    return _TEMPLATES.get_template("run_checks.html").render(
        run_id=run_id,
        started=records[0]["run_started_at"] if records else "",
        rows=records,
        failed=failed,
        blocking=sum(1 for r in failed if r["severity"] == "blocking"),
        by_dataset=by_dataset,
        columns=COLUMNS,
    )
