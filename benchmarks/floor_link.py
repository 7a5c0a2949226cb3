"""The engine floor's linkage: the child-level records joined into children as contract
section 3 links them (identifiers transitively, then the demographic triple unless the group
holds two ID numbers or two certificates), in numpy and scipy.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_array, csgraph

# The values that link records (contract section 3), each numbered as a graph node.
NODES = ("id_key", "birth_cert_key", "archive_key", "triple")


def _components(size: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The connected component of each of `size` nodes, given the edges a -- b."""
    graph = coo_array((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size))
    return csgraph.connected_components(graph, directed=False)[1]


def link(records: pl.DataFrame) -> np.ndarray:
    """Each record's child (an integer; -1 for a record with nothing to link by), as contract
    section 3 links them. Values are numbered by their 64-bit hash: a collision (about one
    chance in four million among a province's 3M values of a kind) would merge two children;
    a floor may take that risk, the refresh does not."""
    n = records.height
    hashed = records.select(pl.when(pl.col(c).is_not_null()).then(pl.col(c).hash()) for c in NODES)
    # Numbered per kind (0: none), each kind after the one before it.
    ranked = hashed.select(pl.col(c).rank("dense").fill_null(0).cast(pl.Int64) for c in NODES)
    offsets = np.cumsum([0, *(ranked.max().row(0))])
    ident, cert, archive, tri = (
        np.where(r > 0, r + offset, 0)
        for r, offset in zip(ranked.to_numpy().T, offsets[:-1], strict=True)
    )
    size = int(offsets[-1]) + 1
    first = np.where(ident > 0, ident, np.where(cert > 0, cert, archive))
    has_first = first > 0
    pairs = [(first, other, has_first & (other > 0)) for other in (cert, archive, tri)]
    # Demographic groups: the components of identifier and triple edges.
    group = _components(size, *(np.concatenate([p[e][p[2]] for p in pairs]) for e in (0, 1)))
    record_group = np.where(has_first, group[first], group[tri])
    # A conflict: two ID numbers or two certificates among the group's identifier records.
    judged = pl.DataFrame({"g": record_group, "i": ident, "c": cert}).filter(pl.Series(has_first))
    distinct = [pl.col(c).filter(pl.col(c) > 0).n_unique() > 1 for c in ("i", "c")]
    conflicts = judged.group_by("g").agg(pl.any_horizontal(distinct).alias("apart"))
    conflict = np.zeros(size, dtype=bool)
    conflict[conflicts.filter("apart")["g"].to_numpy()] = True
    apart = conflict[record_group]
    # In a conflict nothing merges: the children formed by identifiers (components of the
    # identifier edges of those records only), each identifier-less record a child of its own.
    identifier_pairs = [(a[m & apart], b[m & apart]) for a, b, m in pairs[:2]]
    by_identifiers = _components(size, *map(np.concatenate, zip(*identifier_pairs, strict=True)))
    child = np.where(
        ~apart,
        record_group,
        np.where(has_first, size + by_identifiers[first], 2 * size + np.arange(n)),
    )
    return np.where(has_first | (tri > 0), child, -1)
