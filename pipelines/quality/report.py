"""A self-contained HTML page of one run's check results (our equivalent of GE Data Docs):
`<warehouse dir>/quality/<run_id>.html`, copied to `latest.html`."""

from __future__ import annotations

import html
import os
from pathlib import Path

import duckdb

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin-bottom:2rem;width:100%}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem;
overflow-wrap:anywhere}
th{background:#f2f2f2}
tr.fail-blocking td{background:#fde2e2} tr.fail-warn td{background:#fff4d6}
code{font-size:.85rem}
"""
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
    started = rows[0][1] if rows else ""
    failed = [r for r in rows if not r[5]]
    blocking = sum(1 for r in failed if r[3] == "blocking")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Data quality {html.escape(run_id)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Data quality, run <code>{html.escape(run_id)}</code></h1>",
        f"<p>Started {html.escape(str(started))} UTC. {len(rows)} checks, {len(failed)} failed"
        f" ({blocking} blocking). Counts are exact over whole tables; row-level rules are"
        " validated by Great Expectations on the rows noted under <em>evaluated on</em>.</p>",
    ]
    if failed:
        parts.append("<h2>Failed checks</h2>")
        parts.append(_table(failed, with_dataset=True))
    for dataset in dict.fromkeys(r[0] for r in rows):
        parts.append(f"<h2>{html.escape(dataset)}</h2>")
        parts.append(_table([r for r in rows if r[0] == dataset], with_dataset=False))
    parts.append("</body></html>")
    return "".join(parts)


def _table(rows: list[tuple], with_dataset: bool) -> str:
    head = ["dataset"] if with_dataset else []
    parts = ["<table><tr>"]
    parts += [f"<th>{c.replace('_', ' ')}</th>" for c in (*head, *COLUMNS)]
    parts.append("</tr>")
    for r in rows:
        css = "" if r[5] else f" class='fail-{html.escape(r[3])}'"
        cells = [*r[:1] * with_dataset, *r[2:5], "passed" if r[5] else "FAILED", *r[6:]]
        parts.append(f"<tr{css}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells))
        parts.append("</tr>")
    parts.append("</table>")
    return "".join(parts)
