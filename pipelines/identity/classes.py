"""Record classes and their resolution: steps 1-3 of docs/identity.md on classes of records.

A class is a set of records of one source alike in everything identity reads of them; every
step after the grouping works on classes and integer graph nodes, never on records.
"""

from __future__ import annotations

import duckdb

from pipelines.identity.graph import connected_components
from pipelines.identity.records import KEYS

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
# A record's class: what identity reads of it (expressions over a record of
# `record_selects`). An identifier-less record is a class of its own (`own_ref`): it may
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


def identifier_classes(con: duckdb.DuckDBPyConnection, selects: dict[str, str]) -> None:
    """Records (`selects`, per source) reduced to classes (`cid`) of records alike in all that
    identity reads: source, identifiers, triple, sex and birth date, a birth's community, an
    archive's date, and an identifier-less record's own key (such a record may become a
    child of its own). Every identifier and triple value is numbered as a graph node, with the
    records carrying it. Everything after this step works on classes only, never on records
    (grouping by these columns costs less than aggregating them per class)."""
    # One grouping per source (no class spans two): a smaller hash table, which stays within
    # DuckDB's memory where the four sources' together spill.
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
    # children_sql()). Written in that order, which a parallel sort gives (a row_number()
    # window sorts on one thread).
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


def resolve_classes(con: duckdb.DuckDBPyConnection) -> None:
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
    record's hash names its class, and records find it by an integer join (cheaper than
    comparing the columns); else by the columns themselves."""
    return con.execute("SELECT count(DISTINCT (src, h)) = count(*) FROM _id_clsn").fetchone()[0]
