"""Child identity resolution (contract section 3), set-based in DuckDB.

The records of the child-level sources become one child index in three steps, each a
handful of SQL statements over whole tables (no per-row Python):

1. identifier children: connected components of identifier values (ID number, birth
   certificate, archive number) that occur together on a record;
2. demographic groups: connected components of the bipartite graph identifier child --
   triple, with the identifier-less records hanging on their triple;
3. a group merges into one child unless its identifier children hold two ID numbers or two
   birth certificates; then each identifier child stays as it is and each identifier-less
   record of the group becomes an ambiguous child of its own.

Identity writes the record-to-child map only (record_classes, the child_records view,
children, and the sources their `src` numbers); what is counted from it (linkage quality,
the cross-source checks' metrics) is dbt's. docs/identity.md explains the rules and choices.
"""

from __future__ import annotations

import time

import duckdb

from pipelines.identity.children import children_sql, handle_keys
from pipelines.identity.classes import (
    CHILD_GROUP,
    CLASS_COLUMNS,
    CLASS_HASH,
    CLASS_SELECT,
    IDENTIFIER_METHODS,
    RUN_SETTINGS,
    classes_hash_apart,
    identifier_classes,
    resolve_classes,
)
from pipelines.identity.records import (
    ATTRIBUTE_PRIORITY,
    DETAIL_COLUMNS,
    KEYS,
    SOURCE_RECORDS,
    record_selects,
)
from pipelines.operations.failpoints import failpoint

# The record shapes are importable from here, beside the entry point.
__all__ = ["ATTRIBUTE_PRIORITY", "SOURCE_RECORDS", "resolve_identity"]


def _write_index(con: duckdb.DuckDBPyConnection, selects: dict[str, str], by_hash: bool) -> None:
    """Class map, the records view over it, children and sources, replaced in one
    transaction. `by_hash`: records find their class by its hash (classes_hash_apart())."""
    keys = KEYS.split(", ")
    if by_hash:
        class_columns, key_nodes = "c.h AS class_hash", ""
        on = "m.class_hash = r.class_hash"
    else:
        nids = ("id_nid", "bc_nid", "ar_nid", "tr_nid")
        others = [c for c in CLASS_COLUMNS if c not in keys]
        class_columns = ", ".join([*(f"{c}.key AS {c}" for c in keys), *(f"c.{c}" for c in others)])
        key_nodes = "\n".join(
            f"LEFT JOIN _id_node {c} ON {c}.rowid = c.{nid}"
            for c, nid in zip(keys, nids, strict=True)
        )
        on = " AND ".join(f"r.{c} IS NOT DISTINCT FROM m.{c}" for c in CLASS_COLUMNS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _id_children AS {children_sql()}")
    methods = "[" + ", ".join(f"'{m}'" for m in IDENTIFIER_METHODS.values()) + "]"
    details = ", ".join(f"r.detail_{name} AS {name}" for name in DETAIL_COLUMNS)
    # A record finds its class in the map of its own source (a smaller hash table per source).
    records = " UNION ALL ".join(
        f"""SELECT r.source, r.record_key, m.child_key, m.child_id,
            m.link_method, m.is_ambiguous, {details}
        FROM (SELECT *, {CLASS_HASH} AS class_hash
            FROM (SELECT * EXCLUDE ({KEYS}, sex, birth_date), {CLASS_SELECT} FROM ({select})))
            AS r
        JOIN identity.record_classes m ON m.src = r.src AND {on}"""
        for select in selects.values()
    )
    sources = ", ".join(f"({i}, '{s}')" for i, s in enumerate(ATTRIBUTE_PRIORITY, start=1))
    per_source = ", ".join(f'k."{s}"::BIGINT AS {c}' for s, c in SOURCE_RECORDS.items())
    handle_columns, handle_joins = handle_keys()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS identity")
        con.execute(
            f"""CREATE OR REPLACE TABLE identity.sources AS
            SELECT src::UTINYINT AS src, source::VARCHAR AS source
            FROM (VALUES {sources}) s(src, source) ORDER BY src"""
        )
        con.execute(
            f"""CREATE OR REPLACE TABLE identity.record_classes AS
            SELECT c.src, {class_columns}, c.n AS records, k.child_key, k.child_id,
                coalesce({methods}[c.shared], CASE WHEN x.is_ambiguous THEN 'ambiguous'
                    WHEN k.n_records > 1 THEN 'demographics' ELSE 'none' END) AS link_method,
                x.is_ambiguous
            FROM _id_clsn c JOIN _id_res x USING (cid)
            LEFT JOIN _id_children k ON k.child_group = {CHILD_GROUP}
            {key_nodes}"""
        )
        # The records are not copied: a view finds their class. An older warehouse may hold
        # them as a table, and a linkage_metrics table whose figures dbt counts instead.
        if con.execute(
            "SELECT count(*) FROM duckdb_tables()"
            " WHERE schema_name = 'identity' AND table_name = 'child_records'"
        ).fetchone()[0]:
            con.execute("DROP TABLE identity.child_records")
        con.execute("DROP TABLE IF EXISTS identity.linkage_metrics")
        con.execute(f"CREATE OR REPLACE VIEW identity.child_records AS {records}")
        con.execute(
            f"""CREATE OR REPLACE TABLE identity.children AS
            SELECT k.child_key, k.child_id, k.sex, k.birth_date, {handle_columns},
                k.birth_community_code, k.has_birth_record,
                k.has_archive, k.first_archive_date, k.n_records::INTEGER AS n_records,
                k.birth_date_conflict, k.sex_conflict, k.is_ambiguous, {per_source}
            FROM _id_children k
            {handle_joins}"""
        )
        failpoint("identity")  # mid-transaction: a kill here must leave nothing half-written
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _summary(con: duckdb.DuckDBPyConnection) -> dict:
    """What the asset reports, read from identity's own tables: children, records per source
    (every source, 0 without records) and ambiguous children."""
    records = dict(
        con.execute(
            """SELECT s.source, coalesce(sum(c.records), 0)::BIGINT
            FROM identity.sources s LEFT JOIN identity.record_classes c USING (src)
            GROUP BY s.src, s.source ORDER BY s.src"""
        ).fetchall()
    )
    children, ambiguous = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_ambiguous) FROM identity.children"
    ).fetchone()
    return {"children": children, "records": records, "ambiguous": ambiguous}


def resolve_identity(con: duckdb.DuckDBPyConnection, by_keys: bool = False) -> dict:
    """Build schema `identity` from `ingested.*`; returns a summary for the asset metadata.
    `by_keys`: records find their class by its keys even when the hashes would do (the path
    a hash collision takes, for tests)."""
    started = time.perf_counter()
    # Row order carries no meaning here (not preserving it lets DuckDB write in parallel), and
    # a progress bar has no terminal in a run; the caller's settings come back afterwards.
    before = {
        name: con.execute(f"SELECT current_setting('{name}')").fetchone()[0]
        for name in RUN_SETTINGS
    }
    for name, value in RUN_SETTINGS.items():
        con.execute(f"SET {name} = {value}")
    try:
        selects = record_selects(con)
        identifier_classes(con, selects)
        resolve_classes(con)
        _write_index(con, selects, by_hash=not by_keys and classes_hash_apart(con))
    finally:
        for name, value in before.items():
            con.execute(f"SET {name} = {value}")
    for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, '_id_')"
    ).fetchall():
        con.execute(f"DROP TABLE {name}")
    return {**_summary(con), "seconds": round(time.perf_counter() - started, 3)}
