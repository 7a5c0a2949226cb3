"""Connected components of an integer graph, for the identity steps."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_array, csgraph


def connected_components(con: duckdb.DuckDBPyConnection, edges: str, out: str) -> None:
    """Write temp table `out`(node, label): each node of the edges (a query of BIGINT
    columns a, b) labelled with the smallest node of its connected component.

    The components are scipy's (a graph traversal in C, linear in the edges), where min-label
    propagation in SQL needs a join and a grouping of every edge per round."""
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
