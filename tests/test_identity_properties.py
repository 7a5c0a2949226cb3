"""Properties of child identity resolution on random records drawn from small key alphabets
(so identifiers and triples collide often), against a plain union-find reference."""

from __future__ import annotations

import random
from collections import defaultdict

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.identity.records import ATTRIBUTE_PRIORITY
from pipelines.identity.resolve import resolve_identity
from tests.fixtures.identity import LINK_METHODS, methods, metrics, partition, write_ingested

IDENTIFIERS = ("id_key", "birth_cert_key", "archive_key")


def _maybe(prefix: str, size: int):
    return st.one_of(st.none(), st.sampled_from([f"{prefix}_{i}" for i in range(size)]))


def _record(source: str, n: int):
    """Random records of one source, record keys unique within the source."""
    fields = {
        "id_key": _maybe("id", 4),
        "triple_key": _maybe("t", 3),
        "sex": st.sampled_from(["M", "F"]),
        "birth_date": st.sampled_from(["2023-01-01", "2023-02-02"]),
    }
    if source in ("births", "health_archives"):
        fields["community_code"] = _maybe("c", 2)
    if source == "health_archives":
        fields["archive_date"] = st.sampled_from(["2023-03-01", "2023-04-01"])
    if source != "births":
        fields["birth_cert_key"] = _maybe("bc", 4)
    if source != "enrollments" and source != "births":
        fields["archive_key"] = _maybe("ar", 4)
    records = st.lists(st.fixed_dictionaries(fields), max_size=n)
    if source == "births":
        certs = st.lists(st.sampled_from([f"bc_{i}" for i in range(4)]), unique=True, max_size=n)
        return st.tuples(certs, records).map(
            lambda cr: [{**r, "birth_cert_key": c} for c, r in zip(*cr, strict=False)]
        )
    if source == "health_archives":
        return records.map(_unique_archives)
    return records.map(
        lambda rs: [{**r, "record_key": f"{source[:2]}_{i}"} for i, r in enumerate(rs)]
    )


def _unique_archives(records: list[dict]) -> list[dict]:
    seen, kept = set(), []
    for r in records:
        if r["archive_key"] is not None and r["archive_key"] not in seen:
            seen.add(r["archive_key"])
            kept.append(r)
    return kept


SOURCES = ("births", "health_archives", "health_checks", "enrollments")
deliveries = st.fixed_dictionaries({s: _record(s, 6) for s in SOURCES})


class UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            x = self.parent[x]
        return x

    def union(self, a, b):
        self.parent[self.find(a)] = self.find(b)


def reference(delivery: dict) -> tuple[set[frozenset[str]], dict[str, str]]:
    """Contract section 3 record by record: partition and link method of every record."""
    recs = []
    for source, rows in delivery.items():
        for r in rows:
            key = r["birth_cert_key"] if source == "births" else r.get("record_key")
            key = r["archive_key"] if source == "health_archives" else key
            recs.append(
                {
                    "ref": f"{source}:{key}",
                    **{c: r.get(c) for c in IDENTIFIERS},
                    "triple": r["triple_key"],
                }
            )
    ident = UnionFind()
    for r in recs:
        for c in IDENTIFIERS:
            if r[c] is not None:
                ident.union(("rec", r["ref"]), (c, r[c]))
    has_ident = {r["ref"]: any(r[c] is not None for c in IDENTIFIERS) for r in recs}
    group = UnionFind()
    for r in recs:
        if has_ident[r["ref"]] and r["triple"] is not None:
            group.union(("comp", ident.find(("rec", r["ref"]))), ("triple", r["triple"]))

    def group_of(r):
        if has_ident[r["ref"]]:
            return group.find(("comp", ident.find(("rec", r["ref"]))))
        return group.find(("triple", r["triple"])) if r["triple"] is not None else None

    values = defaultdict(lambda: defaultdict(set))
    for r in recs:
        if has_ident[r["ref"]]:
            for c in ("id_key", "birth_cert_key"):
                if r[c] is not None:
                    values[group_of(r)][c].add(r[c])
    conflict = {g: any(len(v) > 1 for v in vals.values()) for g, vals in values.items()}

    child, ambiguous = {}, set()
    for r in recs:
        g = group_of(r)
        if has_ident[r["ref"]]:
            child[r["ref"]] = ("comp", ident.find(("rec", r["ref"]))) if conflict.get(g) else g
        elif g is not None and not conflict.get(g):
            child[r["ref"]] = g
        else:
            child[r["ref"]] = ("own", r["ref"])
            ambiguous |= {r["ref"]} if g is not None else set()
    members = defaultdict(set)
    for ref, c in child.items():
        members[c].add(ref)

    uses = defaultdict(int)
    for r in recs:
        for c in IDENTIFIERS:
            if r[c] is not None:
                uses[(c, r[c])] += 1
    names = {"id_key": "id_number", "birth_cert_key": "birth_cert", "archive_key": "archive_no"}
    method = {}
    for r in recs:
        shared = [names[c] for c in IDENTIFIERS if r[c] is not None and uses[(c, r[c])] > 1]
        if shared:
            method[r["ref"]] = shared[0]
        elif r["ref"] in ambiguous:
            method[r["ref"]] = "ambiguous"
        else:
            method[r["ref"]] = "demographics" if len(members[child[r["ref"]]]) > 1 else "none"
    return {frozenset(m) for m in members.values()}, method


def _resolve(delivery: dict, by_keys: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    write_ingested(con, **delivery)
    resolve_identity(con, by_keys=by_keys)
    return con


# by_keys: records find their class by comparing keys, as when two classes' hashes collide.
@pytest.mark.parametrize("by_keys", [False, True])
@settings(max_examples=40, deadline=None)
@given(delivery=deliveries)
def test_matches_the_union_find_reference(delivery, by_keys):
    con = _resolve(delivery, by_keys)
    expected_partition, expected_methods = reference(delivery)
    assert partition(con) == expected_partition
    assert methods(con) == expected_methods
    # One row per record (the view finds exactly one class for each), each with its child.
    rows, with_child = con.execute(
        "SELECT count(*), count(child_key) FROM identity.child_records"
    ).fetchone()
    assert rows == with_child == len(expected_methods) == sum(len(r) for r in delivery.values())
    # child_id numbers the children one to one with child_key, and each record carries its own.
    numbered = con.execute("SELECT child_key, child_id FROM identity.children").fetchall()
    assert len({k for k, _ in numbered}) == len({n for _, n in numbered}) == len(numbered)
    assert None not in {n for _, n in numbered}
    carried = con.execute("SELECT DISTINCT child_key, child_id FROM identity.child_records")
    assert set(carried.fetchall()) == set(numbered)
    for source, row in metrics(con).items():
        counted = [m for ref, m in expected_methods.items() if ref.startswith(f"{source}:")]
        assert row[:7] == (len(counted), *(counted.count(m) for m in LINK_METHODS))


@settings(max_examples=20, deadline=None)
@given(delivery=deliveries, seed=st.integers(0, 2**32 - 1))
def test_children_do_not_depend_on_row_order(delivery, seed):
    shuffled = {s: random.Random(seed).sample(rows, len(rows)) for s, rows in delivery.items()}
    first, second = _resolve(delivery), _resolve(shuffled)
    query = (
        "SELECT source, record_key, child_key, link_method FROM identity.child_records ORDER BY ALL"
    )
    assert first.execute(query).fetchall() == second.execute(query).fetchall()
    assert first.execute("SELECT * FROM identity.children ORDER BY child_key").fetchall() == (
        second.execute("SELECT * FROM identity.children ORDER BY child_key").fetchall()
    )


@settings(max_examples=30, deadline=None)
@given(delivery=deliveries)
def test_no_demographic_merge_joins_two_id_numbers(delivery):
    """A child holding two ID numbers (or two certificates) was formed by identifiers alone:
    all its records carry identifiers and are connected through shared identifier values."""
    con = _resolve(delivery)
    rows = con.execute(
        """WITH r AS (
            SELECT 'births' AS source, record_key, id_key, birth_cert_key, NULL AS archive_key
            FROM ingested.births
            UNION ALL SELECT 'health_archives', record_key, id_key, birth_cert_key, archive_key
            FROM ingested.health_archives
            UNION ALL SELECT 'health_checks', record_key, id_key, birth_cert_key, archive_key
            FROM ingested.health_checks
            UNION ALL SELECT 'enrollments', record_key, id_key, birth_cert_key, NULL
            FROM ingested.enrollments)
        SELECT c.child_key, list([r.id_key, r.birth_cert_key, r.archive_key])
        FROM identity.child_records c JOIN r USING (source, record_key)
        GROUP BY c.child_key
        HAVING count(DISTINCT r.id_key) > 1 OR count(DISTINCT r.birth_cert_key) > 1"""
    ).fetchall()
    for _, records in rows:
        assert all(any(v is not None for v in rec) for rec in records)
        links = UnionFind()
        for i, rec in enumerate(records):
            for kind, value in zip(IDENTIFIERS, rec, strict=True):
                if value is not None:
                    links.union(i, (kind, value))
        assert len({links.find(i) for i in range(len(records))}) == 1


def expected_children(con: duckdb.DuckDBPyConnection, delivery: dict) -> list[tuple]:
    """Every child's attributes worked out record by record in Python (contract section 3:
    the best source that has a value, the smallest within it; community from births, first
    archive date from archives), over the partition the engine made (checked above)."""
    child_of = dict(
        con.execute(
            "SELECT source || ':' || record_key, child_key FROM identity.child_records"
        ).fetchall()
    )
    records = defaultdict(list)
    for source, rows in delivery.items():
        for r in rows:
            key = {"births": "birth_cert_key", "health_archives": "archive_key"}.get(source)
            ref = f"{source}:{r[key] if key else r['record_key']}"
            records[child_of[ref]].append((ATTRIBUTE_PRIORITY.index(source), source, r))
    children = []
    for child, recs in records.items():
        best = min(recs, key=lambda x: (x[0], x[2]["sex"]))[2]["sex"]
        born = min(recs, key=lambda x: (x[0], x[2]["birth_date"]))[2]["birth_date"]
        communities = [r["community_code"] for _, s, r in recs if s == "births"]
        archived = [r["archive_date"] for _, s, r in recs if s == "health_archives"]
        children.append(
            (
                child,
                best,
                born,
                min((c for c in communities if c is not None), default=None),
                any(s == "births" for _, s, _ in recs),
                bool(archived),
                min(archived, default=None),
                len(recs),
                len({r["birth_date"] for _, _, r in recs}) > 1,
                len({r["sex"] for _, _, r in recs}) > 1,
                *(sum(s == source for _, s, _ in recs) or None for source in ATTRIBUTE_PRIORITY),
            )
        )
    return sorted(children)


@settings(max_examples=40, deadline=None)
@given(delivery=deliveries)
def test_child_attributes_match_a_record_by_record_reference(delivery):
    con = _resolve(delivery)
    got = con.execute(
        """SELECT child_key, sex, birth_date::VARCHAR, birth_community_code, has_birth_record,
            has_archive, first_archive_date::VARCHAR, n_records, birth_date_conflict,
            sex_conflict, births_records, health_archives_records, enrollments_records,
            health_checks_records
        FROM identity.children ORDER BY ALL"""
    ).fetchall()
    assert got == expected_children(con, delivery)
