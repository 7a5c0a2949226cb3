"""Comments of the published file: every table and column says what it holds (Chinese, then
English) to whoever opens the file with any DuckDB client (`duckdb_columns()`).

dbt writes the marts' descriptions into the working file as comments (`persist_docs`); the
tables other steps write (audit, quality, meta) are described in `comments.yml` beside this
module. `CREATE TABLE AS` drops comments, so the publish step copies them onto the candidate.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

COMMENTS_FILE = Path(__file__).with_name("comments.yml")

# (schema, table, column); column None for the table's own comment.
Key = tuple[str, str, str | None]

_WORKING_COMMENTS = """
SELECT schema_name, table_name, NULL, comment FROM duckdb_tables()
WHERE database_name = $db AND nullif(trim(comment), '') IS NOT NULL
UNION ALL
SELECT schema_name, view_name, NULL, comment FROM duckdb_views()
WHERE database_name = $db AND NOT internal AND nullif(trim(comment), '') IS NOT NULL
UNION ALL
SELECT schema_name, table_name, column_name, comment FROM duckdb_columns()
WHERE database_name = $db AND NOT internal AND nullif(trim(comment), '') IS NOT NULL
"""

# Every relation and column of the connection's own database, with its comment and its kind.
_OWN_RELATIONS = """
SELECT schema_name, table_name, NULL AS column_name, comment, 'TABLE' AS kind, 0 AS position
FROM duckdb_tables() WHERE database_name = current_database() AND NOT internal
UNION ALL
SELECT schema_name, view_name, NULL, comment, 'VIEW', 0
FROM duckdb_views() WHERE database_name = current_database() AND NOT internal
UNION ALL
SELECT schema_name, table_name, column_name, comment, 'COLUMN', column_index
FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal
ORDER BY schema_name, table_name, position
"""


def sql_literal(text: str) -> str:
    """`text` as a SQL string literal (quotes doubled): COMMENT ON takes no bound parameter."""
    if "\x00" in text:
        raise ValueError("a comment cannot hold a NUL character")
    return "'" + text.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def declared_comments(path: Path = COMMENTS_FILE) -> dict[Key, str]:
    """The comments of `comments.yml`: schema -> table -> description and columns."""
    declared: dict[Key, str] = {}
    for schema, tables in yaml.safe_load(path.read_text(encoding="utf-8")).items():
        for table, spec in tables.items():
            declared[(schema, table, None)] = spec["description"].strip()
            for column, text in (spec.get("columns") or {}).items():
                declared[(schema, table, column)] = text.strip()
    return declared


def working_comments(con: duckdb.DuckDBPyConnection, work_alias: str) -> dict[Key, str]:
    """The comments the database attached as `work_alias` holds (a view's under its name)."""
    rows = con.execute(_WORKING_COMMENTS, {"db": work_alias}).fetchall()
    return {(schema, table, column): text for schema, table, column, text in rows}


def _own_relations(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(_OWN_RELATIONS).fetchall()


def _statement(key: Key, kind: str, text: str) -> str:
    schema, table, column = key
    target = f"{quote_identifier(schema)}.{quote_identifier(table)}"
    if column is not None:
        return f"COMMENT ON COLUMN {target}.{quote_identifier(column)} IS {sql_literal(text)}"
    return f"COMMENT ON {kind} {target} IS {sql_literal(text)}"


def apply_comments(con: duckdb.DuckDBPyConnection, work_alias: str) -> int:
    """Comment the tables and columns of `con`'s own database: with the comments of the
    working file attached as `work_alias` (the dbt models'), and with `comments.yml` (the
    tables other steps write). Relations or columns absent from `con` are skipped. The number
    of comments set."""
    wanted = {**working_comments(con, work_alias), **declared_comments()}
    statements = []
    for schema, table, column, _comment, kind, _position in _own_relations(con):
        text = wanted.get((schema, table, column))
        if text is not None:
            statements.append(_statement((schema, table, column), kind, text))
    # One transaction: the candidate has all its comments or none.
    con.execute("BEGIN TRANSACTION")
    try:
        for statement in statements:
            con.execute(statement)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(statements)


def missing_comments(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table, view (`schema.table`) and column (`schema.table.column`) of `con`'s own
    database without a comment."""
    return [
        ".".join(part for part in (schema, table, column) if part is not None)
        for schema, table, column, comment, _kind, _position in _own_relations(con)
        if not (comment or "").strip()
    ]
