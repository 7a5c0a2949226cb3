"""The data dictionary beside the published file: one self-contained HTML page (no script,
nothing loaded) describing every table and column of the published file and every indicator,
read from the published file itself (its comments and `marts.indicators`), so that it never
disagrees with the file evaluators hold."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
from markupsafe import Markup, escape

from pipelines.publish.comments import quote_identifier
from pipelines.report.render import DICTIONARY_FILE, TEMPLATES

__all__ = ["DICTIONARY_FILE", "read_dictionary", "write_dictionary"]

_TABLES = """
SELECT schema_name, table_name, comment, 'table' AS kind FROM duckdb_tables()
WHERE database_name = current_database() AND NOT internal
UNION ALL
SELECT schema_name, view_name, comment, 'view' FROM duckdb_views()
WHERE database_name = current_database() AND NOT internal
ORDER BY schema_name, table_name
"""
_COLUMNS = """
SELECT schema_name, table_name, column_name, data_type, comment
FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal
ORDER BY schema_name, table_name, column_index
"""
# The schemas in the order an evaluator reads them, with their headings.
SCHEMAS = {
    "marts": "指标与评估 / Indicators and assessment",
    "audit": "文件审计与隔离 / File audit and quarantine",
    "quality": "数据质量检查 / Quality checks",
    "meta": "运行记录 / Run records",
}
# Columns of marts.indicators shown as the indicators' definitions, with their headings.
DEFINITION_FIELDS = {
    "name_zh": "名称",
    "unit": "单位 / Unit",
    "numerator_zh": "分子",
    "denominator_zh": "分母",
    "numerator_definition": "Numerator",
    "denominator_definition": "Denominator",
    "scope_levels": "范围层级 / Scope levels",
    "sources_zh": "数据来源 / Sources",
    "target_zh": "试点目标 / Target",
    "scope_rule": "范围规则 / Scope rule",
}
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def inline_markdown(text: str | None) -> Markup:
    """A comment's `code` and **bold** as HTML, everything else escaped."""
    html = str(escape(text or ""))
    html = _CODE.sub(r"<code>\1</code>", html)
    return Markup(_BOLD.sub(r"<b>\1</b>", html))


def _schema_order(schema: str) -> tuple[int, str]:
    return (list(SCHEMAS).index(schema) if schema in SCHEMAS else len(SCHEMAS), schema)


def read_dictionary(con: duckdb.DuckDBPyConnection) -> dict:
    """What the page shows: schemas -> tables -> columns, and the indicators' definitions."""
    columns: dict[tuple[str, str], list[dict]] = {}
    for schema, table, name, data_type, comment in con.execute(_COLUMNS).fetchall():
        columns.setdefault((schema, table), []).append(
            {"name": name, "type": data_type, "comment": inline_markdown(comment)}
        )
    schemas: dict[str, list[dict]] = {}
    for schema, table, comment, kind in con.execute(_TABLES).fetchall():
        relation = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        rows = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
        schemas.setdefault(schema, []).append(
            {
                "id": f"{schema}.{table}",
                "kind": kind,
                "comment": inline_markdown(comment),
                "rows": rows,
                "columns": columns.get((schema, table), []),
            }
        )
    ordered = sorted(schemas, key=_schema_order)
    return {
        "schemas": [(s, SCHEMAS.get(s, s), schemas[s]) for s in ordered],
        "indicators": _indicators(con, {t["id"] for s in schemas.values() for t in s}),
    }


def _indicators(con: duckdb.DuckDBPyConnection, tables: set[str]) -> list[dict]:
    if "marts.indicators" not in tables:
        return []
    frame = con.sql("SELECT * FROM marts.indicators").pl()
    if "plan_order" in frame.columns:
        frame = frame.sort("plan_order", maintain_order=True)
    fields = [f for f in DEFINITION_FIELDS if f in frame.columns]
    return [
        {
            "code": row["indicator_code"],
            "fields": [(DEFINITION_FIELDS[f], row[f]) for f in fields if row[f] not in (None, "")],
        }
        for row in frame.iter_rows(named=True)
    ]


def write_dictionary(
    published: Path, out: Path, report_file: str = "report.html", source_name: str | None = None
) -> Path:
    """Write the data dictionary of the published file `published` to `out`; the page links
    back to `report_file` beside it and names the file as `source_name` (a candidate is
    described under the name it is published as)."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        data = read_dictionary(con)
    finally:
        con.close()
    html = TEMPLATES.get_template("data_dictionary.html").render(
        source_file=source_name or published.name, report_file=report_file, **data
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
