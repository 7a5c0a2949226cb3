"""The children: one row per child, aggregated from its resolved classes (step 4 of
docs/identity.md)."""

from __future__ import annotations

from pipelines.identity.classes import CHILD_GROUP, KIND_PREFIXES, NODE_KINDS
from pipelines.identity.records import ATTRIBUTE_PRIORITY

# Birth dates coded as days since DAY_ZERO (below DAY_CODES) to pick the best one in one min.
DAY_ZERO = "DATE '0001-01-01'"
DAY_CODES = 10_000_000
# Node numbers are INTEGERs, below NODE_CODES: a source rank times it plus a node is one BIGINT.
NODE_CODES = 2**32
# The identifiers a child's handle can come from (its best source's), as node columns.
HANDLE_NODES = {"birth_cert_key": "bc_nid", "id_key": "id_nid"}


def children_sql() -> str:
    """One row per child from its classes: those of one class label, or the one record of
    an identifier-less class without label (ambiguous), a child of its own (`own_ref`).
    child_key: md5 of the smallest value naming the child among its classes' archive
    ('a:'), certificate ('b:') and ID ('i:') keys, the triple ('t:') when it has none, or of
    its own record; it depends on the data only, never on row order.
    child_id: the number of the node naming the child (nodes are numbered in kind and key
    order, so it depends on the data only too), or for a child of its own record a number
    after all nodes, in own_ref order. The models join and group children by it: an integer
    is cheaper to join than the 32-character key, and reusing the node number spares a sort.
    best_bc_nid, best_id_nid: the nodes of the child's birth certificate and own ID from its
    best source, the smaller key within it (handle_keys() turns them into keys)."""
    per_source = ", ".join(
        f'sum(n) FILTER (WHERE src = {i}) AS "{s}"'
        for i, s in enumerate(ATTRIBUTE_PRIORITY, start=1)
    )
    births, archives = (ATTRIBUTE_PRIORITY.index(s) + 1 for s in ("births", "health_archives"))
    prefixes = "[" + ", ".join(f"'{p}'" for p in KIND_PREFIXES.values()) + "]"
    # Attributes: from the best source (lowest rank), and within it the smallest value,
    # found with one integer min over the rank and the value's code (for an identifier, its
    # node: nodes are numbered in key order, and the final write looks its key up).
    handles = ", ".join(
        f"min(c.src * {NODE_CODES} + c.{nid}) % {NODE_CODES} AS best_{nid}"
        for nid in HANDLE_NODES.values()
    )
    return f"""
        WITH children AS (
            SELECT {CHILD_GROUP} AS child_group,
                min(c.own_ref) FILTER (WHERE x.child_lbl IS NULL) AS own_ref,
                min(least(c.ar_nid, c.bc_nid, c.id_nid, c.tr_nid)) AS name_nid,
                ['F', 'M'][min(c.src * 10 + c.sex) % 10] AS sex,
                {DAY_ZERO} + (min(c.src * {DAY_CODES}
                    + (c.birth_date - {DAY_ZERO})) % {DAY_CODES})::INTEGER AS birth_date,
                {handles},
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


def handle_keys() -> tuple[str, str]:
    """The columns and joins that give each row of `_id_children` (as `k`) its handle keys
    (HANDLE_NODES) from their nodes: looked up once per child, not per class, each among the
    nodes of its kind only (a smaller side to probe)."""
    columns = ", ".join(f"{key}.key AS {key}" for key in HANDLE_NODES)
    joins = "\n".join(
        f"""LEFT JOIN (SELECT rowid AS nid, key FROM _id_node WHERE kind = {NODE_KINDS[key]})
            {key} ON {key}.nid = k.best_{nid}"""
        for key, nid in HANDLE_NODES.items()
    )
    return columns, joins
