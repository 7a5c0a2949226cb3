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

docs/identity.md explains the rules, the choices and the metrics.
"""

from __future__ import annotations

import time

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_array, csgraph

from pipelines.ingest.sources import SOURCES
from pipelines.operations.failpoints import failpoint

# Contract section 3: a child's attributes come from the best source that has them.
ATTRIBUTE_PRIORITY = ("births", "health_archives", "enrollments", "health_checks")
assert set(ATTRIBUTE_PRIORITY) == {s.name for s in SOURCES.values() if s.child_level}

IDENTIFIERS = ("id_key", "birth_cert_key", "archive_key")
KEYS = ", ".join((*IDENTIFIERS, "triple_key"))
# Node kinds in the order a child_key takes them (archive, certificate, ID number, triple),
# each with its prefix in the key; a kind is numbered by its place here, from 1.
KIND_PREFIXES = {"archive_key": "a", "birth_cert_key": "b", "id_key": "i", "triple_key": "t"}
NODE_KINDS = {col: rank for rank, col in enumerate(KIND_PREFIXES, start=1)}
# link_method of a record linked through a shared identifier, strongest first.
IDENTIFIER_METHODS = {
    "id_key": "id_number",
    "birth_cert_key": "birth_cert",
    "archive_key": "archive_no",
}
# identity.children: the child's records per source.
SOURCE_RECORDS = {source: f"{source}_records" for source in ATTRIBUTE_PRIORITY}
RECORD_COLUMNS = {
    "record_key": "VARCHAR",
    "id_key": "VARCHAR",
    "birth_cert_key": "VARCHAR",
    "archive_key": "VARCHAR",
    "triple_key": "VARCHAR",
    "sex": "VARCHAR",
    "birth_date": "DATE",
}
# What child_records carries of each record for the marts (its date, and an archive's
# community and closing), so dbt reads the linked records without joining them back.
DETAIL_COLUMNS = {
    "record_date": "DATE",
    "community_code": "VARCHAR",
    "closed_on": "DATE",
    "close_reason": "VARCHAR",
}
RECORD_DETAILS = {
    "births": {"record_date": "birth_date", "community_code": "community_code"},
    "health_archives": {
        "record_date": "archive_date",
        "community_code": "community_code",
        "closed_on": "closed_on",
        "close_reason": "close_reason",
    },
    "health_checks": {"record_date": "check_date"},
    "enrollments": {"record_date": "enroll_date"},
}
assert set(RECORD_DETAILS) == set(ATTRIBUTE_PRIORITY)
# A record's class: what identity reads of it (expressions over a record of
# `_record_selects`). An identifier-less record is a class of its own (`own_ref`): it may
# become a child of its own.
CLASS_COLUMNS = {
    **{key: key for key in KEYS.split(", ")},
    "sex": "CASE sex WHEN 'F' THEN 1 WHEN 'M' THEN 2 END::UTINYINT",
    "birth_date": "birth_date",
    "birth_community": "CASE WHEN source = 'births' THEN detail_community_code END",
    "archive_date": "CASE WHEN source = 'health_archives' THEN detail_record_date END",
    "own_ref": "CASE WHEN id_key IS NULL AND birth_cert_key IS NULL AND archive_key IS NULL"
    " THEN source || ':' || record_key END",
}
CLASS_HASH = f"hash({', '.join(CLASS_COLUMNS)})"
# A record's class columns: as the classes are grouped, and as the view finds a record's class.
CLASS_SELECT = ", ".join(f"{sql} AS {name}" for name, sql in CLASS_COLUMNS.items())
# A class's child: its label (`x.child_lbl`, a node number), or, for a class without one (one
# identifier-less record, a child of its own), its class number made negative, apart from
# every label. One integer, so record_classes finds its child by one equality, not by the
# label and the record's own_ref string compared as IS NOT DISTINCT FROM.
CHILD_GROUP = "coalesce(x.child_lbl, -1 - c.cid)"
RUN_SETTINGS = {"preserve_insertion_order": "false", "enable_progress_bar": "false"}
# Birth dates coded as days since DAY_ZERO (below DAY_CODES) to pick the best one in one min.
DAY_ZERO = "DATE '0001-01-01'"
DAY_CODES = 10_000_000


def _record_selects(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per source, the SELECT of its records (`src`: its rank in ATTRIBUTE_PRIORITY) in the
    columns of RECORD_COLUMNS and DETAIL_COLUMNS (`detail_` + name); a column a source lacks
    reads as NULL."""
    selects = {}
    for rank, source in enumerate(ATTRIBUTE_PRIORITY, start=1):
        present = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'ingested' AND table_name = ?",
                [source],
            ).fetchall()
        }
        cols = [
            f"{name}::{typ} AS {name}" if name in present else f"NULL::{typ} AS {name}"
            for name, typ in RECORD_COLUMNS.items()
        ]
        details = RECORD_DETAILS[source]
        cols += [
            f"{details[name]}::{typ} AS detail_{name}"
            if details.get(name) in present
            else f"NULL::{typ} AS detail_{name}"
            for name, typ in DETAIL_COLUMNS.items()
        ]
        selects[source] = (
            f"SELECT '{source}' AS source, {rank}::UTINYINT AS src, {', '.join(cols)} "
            f"FROM ingested.{source}"
        )
    return selects


def connected_components(con: duckdb.DuckDBPyConnection, edges: str, out: str) -> None:
    """Write temp table `out`(node, label): each node of the edges (a query of BIGINT
    columns a, b) labelled with the smallest node of its connected component.

    The components are scipy's (a graph traversal in C, linear in the edges): min-label
    propagation in SQL took a join and a grouping of every edge per round (10-13 s at 3M
    children against 6 s)."""
    pairs = con.execute(f"SELECT a, b FROM ({edges})").fetchnumpy()
    a, b = (np.asarray(pairs[end], dtype=np.int64) for end in ("a", "b"))
    size = int(max(a.max(initial=-1), b.max(initial=-1))) + 1
    graph = coo_array((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size))
    _, component = csgraph.connected_components(graph, directed=False)
    nodes = np.arange(size, dtype=np.int64)
    smallest = np.full(component.max(initial=-1) + 1, size, dtype=np.int64)
    np.minimum.at(smallest, component, nodes)
    present = np.zeros(size, dtype=bool)
    present[a] = present[b] = True
    labels = pa.table({"node": nodes[present], "label": smallest[component[present]]})
    con.register("_id_cc_labels", labels)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT * FROM _id_cc_labels")
    finally:
        con.unregister("_id_cc_labels")


def _identifier_classes(con: duckdb.DuckDBPyConnection, selects: dict[str, str]) -> None:
    """Records (`selects`, per source) reduced to classes (`cid`) of records alike in all that
    identity reads: source, identifiers, triple, sex and birth date, a birth's community, an
    archive's date, and an identifier-less record's own key (such a record may become a
    child of its own). Every identifier and triple value is numbered as a graph node, with the
    records carrying it. Everything after this step works on classes only, never on records
    (grouping by these columns costs less than aggregating them per class)."""
    # One grouping per source (no class spans two): the checks' hash table alone fits in
    # DuckDB's memory where all four sources' spilled (3M children at 4GB: 26.5 -> 18.4 s).
    for index, select in enumerate(selects.values()):
        into = "CREATE OR REPLACE TEMP TABLE _id_cls AS" if index == 0 else "INSERT INTO _id_cls"
        con.execute(
            f"""{into} SELECT {CLASS_HASH} AS h, *
            FROM (SELECT src, {CLASS_SELECT}, count(*)::INTEGER AS n
                FROM ({select}) GROUP BY ALL)"""
        )
    values = " UNION ALL ".join(
        f"SELECT {rank}::UTINYINT AS kind, {col} AS key, n FROM _id_cls WHERE {col} IS NOT NULL"
        for col, rank in NODE_KINDS.items()
    )
    # Numbered (`rowid`: the node number) in the order of kind and key, so the smallest number
    # among a child's nodes names its smallest value of the first kind it has (its child_key,
    # `_children_sql`). Written in that order, which a parallel sort gives (a row_number()
    # window sorts on one thread: 8.7 -> 7.2 s at 3M children).
    con.execute("SET preserve_insertion_order = true")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _id_node AS
        SELECT kind, key, sum(n) AS n_records FROM ({values}) GROUP BY kind, key
        ORDER BY kind, key"""
    )
    con.execute(f"SET preserve_insertion_order = {RUN_SETTINGS['preserve_insertion_order']}")
    joins = "\n".join(
        f"LEFT JOIN _id_node {col} ON {col}.kind = {rank} AND {col}.key = c.{col}"
        for col, rank in NODE_KINDS.items()
    )
    shared = " ".join(
        f"WHEN {col}.n_records > 1 THEN {code}"
        for code, col in enumerate(IDENTIFIER_METHODS, start=1)
    )
    # The classes with their nodes in place of the keys: the strings stay in _id_node only.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _id_clsn AS
        SELECT c.rowid::INTEGER AS cid, c.* EXCLUDE ({KEYS}),
            id_key.rowid::INTEGER AS id_nid, birth_cert_key.rowid::INTEGER AS bc_nid,
            archive_key.rowid::INTEGER AS ar_nid, triple_key.rowid::INTEGER AS tr_nid,
            coalesce(id_key.rowid, birth_cert_key.rowid, archive_key.rowid)::INTEGER AS first_nid,
            CASE {shared} END::UTINYINT AS shared
        FROM _id_cls c
        {joins}"""
    )
    con.execute("DROP TABLE _id_cls")


def _resolve_classes(con: duckdb.DuckDBPyConnection) -> None:
    """Child label, ambiguity and identifier link method of every class.
    A class with identifiers has `comp` (its identifier child); one without has `comp` NULL."""
    connected_components(
        con,
        """SELECT first_nid AS a, bc_nid AS b FROM _id_clsn WHERE bc_nid <> first_nid
        UNION ALL SELECT first_nid, ar_nid FROM _id_clsn WHERE ar_nid <> first_nid""",
        "_id_l1",
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _id_comp AS
        SELECT c.cid, c.id_nid, c.bc_nid, c.tr_nid, coalesce(l.label, c.first_nid) AS comp
        FROM _id_clsn c LEFT JOIN _id_l1 l ON l.node = c.first_nid"""
    )
    # Demographic groups: identifier child -- triple edges; identifier-less records hang on
    # their triple node, so the group of a triple is the component of its node.
    connected_components(
        con,
        """SELECT comp AS a, tr_nid AS b FROM _id_comp
        WHERE comp IS NOT NULL AND tr_nid IS NOT NULL""",
        "_id_l2",
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _id_grp AS
        SELECT c.*, coalesce(l.label, c.comp, c.tr_nid) AS grp
        FROM _id_comp c LEFT JOIN _id_l2 l ON l.node = coalesce(c.comp, c.tr_nid)"""
    )
    # Conflicts are judged on the identifier children only (identifier-less records carry
    # no ID number or certificate); archive numbers never conflict.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _id_res AS
        WITH conflict AS (
            SELECT grp, min(id_nid) <> max(id_nid) OR min(bc_nid) <> max(bc_nid) AS conflict
            FROM _id_grp WHERE comp IS NOT NULL GROUP BY grp)
        SELECT g.cid,
            CASE WHEN g.comp IS NOT NULL AND coalesce(k.conflict, false) THEN g.comp
                 WHEN g.comp IS NOT NULL THEN g.grp
                 WHEN NOT coalesce(k.conflict, false) THEN g.grp END AS child_lbl,
            g.comp IS NULL AND g.tr_nid IS NOT NULL AND coalesce(k.conflict, false) AS is_ambiguous
        FROM _id_grp g LEFT JOIN conflict k USING (grp)"""
    )
    for name in ("_id_l1", "_id_l2", "_id_comp", "_id_grp"):
        con.execute(f"DROP TABLE {name}")  # their memory goes to the steps after


def classes_hash_apart(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether no two classes of one source share the 64-bit hash of their columns: then a
    record's hash names its class, and records find it by an integer join (a third of the
    cost of comparing the columns); else by the columns themselves."""
    return con.execute("SELECT count(DISTINCT (src, h)) = count(*) FROM _id_clsn").fetchone()[0]


def _children_sql() -> str:
    """One row per child from its classes: those of one class label, or the one record of
    an identifier-less class without label (ambiguous), a child of its own (`own_ref`).
    child_key: md5 of the smallest value naming the child among its classes' archive
    ('a:'), certificate ('b:') and ID ('i:') keys, the triple ('t:') when it has none, or of
    its own record; it depends on the data only, never on row order.
    child_id: the number of the node naming the child (nodes are numbered in kind and key
    order, so it depends on the data only too), or for a child of its own record a number
    after all nodes, in own_ref order. The models join and group children by it (an integer
    costs a quarter less of dbt's time at 3M children than the 32-character key); numbering
    the children afresh in child_key order cost a sort (3 s at 3M children)."""
    per_source = ", ".join(
        f'sum(n) FILTER (WHERE src = {i}) AS "{s}"'
        for i, s in enumerate(ATTRIBUTE_PRIORITY, start=1)
    )
    births, archives = (ATTRIBUTE_PRIORITY.index(s) + 1 for s in ("births", "health_archives"))
    prefixes = "[" + ", ".join(f"'{p}'" for p in KIND_PREFIXES.values()) + "]"
    # Attributes: from the best source (lowest rank), and within it the smallest value,
    # found with one integer min over the rank and the value's code.
    return f"""
        WITH children AS (
            SELECT {CHILD_GROUP} AS child_group,
                min(c.own_ref) FILTER (WHERE x.child_lbl IS NULL) AS own_ref,
                min(least(c.ar_nid, c.bc_nid, c.id_nid, c.tr_nid)) AS name_nid,
                ['F', 'M'][min(c.src * 10 + c.sex) % 10] AS sex,
                {DAY_ZERO} + (min(c.src * {DAY_CODES}
                    + (c.birth_date - {DAY_ZERO})) % {DAY_CODES})::INTEGER AS birth_date,
                min(c.birth_community) AS birth_community_code,
                bool_or(c.src = {births}) AS has_birth_record,
                bool_or(c.src = {archives}) AS has_archive,
                min(c.archive_date) AS first_archive_date,
                sum(c.n) AS n_records,
                min(c.birth_date) <> max(c.birth_date) AS birth_date_conflict,
                min(c.sex) <> max(c.sex) AS sex_conflict,
                bool_or(x.is_ambiguous) AS is_ambiguous,
                {per_source}
            FROM _id_clsn c JOIN _id_res x USING (cid)
            GROUP BY child_group),
        named AS MATERIALIZED (
            SELECT coalesce(md5('record:' || c.own_ref),
                md5({prefixes}[n.kind] || ':' || n.key)) AS child_key, c.*
            FROM children c LEFT JOIN _id_node n ON n.rowid = c.name_nid)
        SELECT name_nid AS child_id, * EXCLUDE (name_nid) FROM named WHERE own_ref IS NULL
        UNION ALL
        SELECT ((SELECT count(*) FROM _id_node) + row_number() OVER (ORDER BY own_ref))::INTEGER,
            * EXCLUDE (name_nid)
        FROM named WHERE own_ref IS NOT NULL"""


def _publish(con: duckdb.DuckDBPyConnection, selects: dict[str, str], by_hash: bool) -> None:
    """Class map, the records view over it, children and metrics, replaced in one
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
    con.execute(f"CREATE OR REPLACE TEMP TABLE _id_children AS {_children_sql()}")
    methods = "[" + ", ".join(f"'{m}'" for m in IDENTIFIER_METHODS.values()) + "]"
    details = ", ".join(f"r.detail_{name} AS {name}" for name in DETAIL_COLUMNS)
    # A record finds its class in the map of its own source (a smaller hash table per
    # source: 4 s for 19M checks against 11 s for one map of all classes at 3M children).
    records = " UNION ALL ".join(
        f"""SELECT r.source, r.record_key, m.child_key, m.child_id,
            m.link_method, m.is_ambiguous, {details}
        FROM (SELECT *, {CLASS_HASH} AS class_hash
            FROM (SELECT * EXCLUDE ({KEYS}, sex, birth_date), {CLASS_SELECT} FROM ({select})))
            AS r
        JOIN identity.record_classes m ON m.src = r.src AND {on}"""
        for select in selects.values()
    )
    sources = ", ".join(f"('{s}', {i})" for i, s in enumerate(ATTRIBUTE_PRIORITY, start=1))
    conflicts = ", ".join(
        f'sum("{s}") FILTER (WHERE birth_date_conflict OR sex_conflict)::BIGINT AS "{s}"'
        for s in ATTRIBUTE_PRIORITY
    )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS identity")
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
        # The records are not copied (25M rows at 3M children): a view finds their class.
        # (A warehouse of an earlier version holds them as a table.)
        if con.execute(
            "SELECT count(*) FROM duckdb_tables()"
            " WHERE schema_name = 'identity' AND table_name = 'child_records'"
        ).fetchone()[0]:
            con.execute("DROP TABLE identity.child_records")
        con.execute(f"CREATE OR REPLACE VIEW identity.child_records AS {records}")
        per_source = ", ".join(f'"{s}"::BIGINT AS {c}' for s, c in SOURCE_RECORDS.items())
        con.execute(
            f"""CREATE OR REPLACE TABLE identity.children AS
            SELECT child_key, child_id, sex, birth_date,
                birth_community_code, has_birth_record,
                has_archive, first_archive_date, n_records::INTEGER AS n_records,
                birth_date_conflict, sex_conflict, is_ambiguous, {per_source}
            FROM _id_children"""
        )
        failpoint("identity")  # mid-transaction: a kill here must leave nothing half-written
        con.execute(
            f"""CREATE OR REPLACE TABLE identity.linkage_metrics AS
            WITH methods AS (
                SELECT src AS rank,
                    sum(records) AS records,
                    sum(records) FILTER (WHERE link_method = 'id_number') AS linked_by_id_number,
                    sum(records) FILTER (WHERE link_method = 'birth_cert')
                        AS linked_by_birth_cert,
                    sum(records) FILTER (WHERE link_method = 'archive_no')
                        AS linked_by_archive_no,
                    sum(records) FILTER (WHERE link_method = 'demographics')
                        AS linked_by_demographics,
                    sum(records) FILTER (WHERE link_method = 'ambiguous') AS ambiguous,
                    sum(records) FILTER (WHERE link_method = 'none') AS unlinked
                FROM identity.record_classes GROUP BY src),
            -- a record is in conflict when its child is: the children count theirs per source
            conflicts AS (
                UNPIVOT (SELECT {conflicts} FROM _id_children)
                ON COLUMNS(*) INTO NAME source VALUE conflicts)
            SELECT s.source,
                coalesce(m.records, 0)::BIGINT AS records,
                coalesce(m.linked_by_id_number, 0)::BIGINT AS linked_by_id_number,
                coalesce(m.linked_by_birth_cert, 0)::BIGINT AS linked_by_birth_cert,
                coalesce(m.linked_by_archive_no, 0)::BIGINT AS linked_by_archive_no,
                coalesce(m.linked_by_demographics, 0)::BIGINT AS linked_by_demographics,
                coalesce(m.ambiguous, 0)::BIGINT AS ambiguous,
                coalesce(m.unlinked, 0)::BIGINT AS unlinked,
                coalesce(k.conflicts, 0)::BIGINT AS conflicts
            FROM (VALUES {sources}) s(source, rank)
            LEFT JOIN methods m USING (rank) LEFT JOIN conflicts k USING (source)
            ORDER BY s.rank"""
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


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
        selects = _record_selects(con)
        _identifier_classes(con, selects)
        _resolve_classes(con)
        _publish(con, selects, by_hash=not by_keys and classes_hash_apart(con))
    finally:
        for name, value in before.items():
            con.execute(f"SET {name} = {value}")
    for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, '_id_')"
    ).fetchall():
        con.execute(f"DROP TABLE {name}")
    records = dict(con.execute("SELECT source, records FROM identity.linkage_metrics").fetchall())
    children, ambiguous = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_ambiguous) FROM identity.children"
    ).fetchone()
    return {
        "children": children,
        "records": records,
        "ambiguous": ambiguous,
        "seconds": round(time.perf_counter() - started, 3),
    }


def benchmark_identity(n_children: int, path: str = ":memory:") -> dict:
    """Resolve a synthetic load of `n_children` children (about 9 records each, hashes made
    in DuckDB) and return the summary. Every synthetic child links, so children must equal
    `n_children`: 90% carry an ID number, movers (1 in 25) have two archives, checks point
    at the archive, and enrollments of children without ID link by the triple only."""
    con = duckdb.connect(path)
    has_id = "i % 10 <> 0"
    common = (
        "md5('tr' || i) AS triple_key, CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END AS sex, "
        "DATE '2021-01-01' + (i % 1000)::INTEGER AS birth_date"
    )
    con.execute("CREATE SCHEMA ingested")
    con.execute(
        f"""CREATE TABLE ingested.births AS
        SELECT md5('bc' || i) AS record_key, md5('bc' || i) AS birth_cert_key,
            CASE WHEN {has_id} AND i % 3 <> 0 THEN md5('id' || i) END AS id_key, {common},
            'c' || (i % 50) AS community_code
        FROM range({n_children}) t(i) WHERE i % 20 <> 0"""
    )
    con.execute(
        f"""CREATE TABLE ingested.health_archives AS
        SELECT md5('ar' || i || '-' || k) AS record_key, md5('ar' || i || '-' || k) AS archive_key,
            CASE WHEN {has_id} THEN md5('id' || i) END AS id_key,
            CASE WHEN NOT ({has_id}) OR i % 2 = 0 THEN md5('bc' || i) END AS birth_cert_key,
            {common}, 'c' || (i % 50) AS community_code,
            DATE '2021-03-01' + (i % 1000 + k * 200)::INTEGER AS archive_date
        FROM range({n_children}) t(i), range(2) a(k) WHERE k = 0 OR i % 25 = 0"""
    )
    con.execute(
        f"""CREATE TABLE ingested.health_checks AS
        SELECT md5('ck' || i || '-' || j) AS record_key, md5('ar' || i || '-0') AS archive_key,
            NULL::VARCHAR AS id_key, NULL::VARCHAR AS birth_cert_key,
            CASE WHEN j = 0 THEN md5('tr' || i) END AS triple_key,
            CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END AS sex,
            DATE '2021-01-01' + (i % 1000)::INTEGER AS birth_date
        FROM range({n_children}) t(i), range(7) c(j)"""
    )
    con.execute(
        f"""CREATE TABLE ingested.enrollments AS
        SELECT md5('en' || i) AS record_key, CASE WHEN {has_id} THEN md5('id' || i) END AS id_key,
            NULL::VARCHAR AS birth_cert_key, {common}
        FROM range({n_children}) t(i) WHERE i % 3 = 0"""
    )
    try:
        return resolve_identity(con)
    finally:
        con.close()
