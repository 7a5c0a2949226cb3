"""The child index as tables and as an asset: a rerun replaces it, an older warehouse is
migrated, the Dagster asset reports from identity's own tables, the synthetic benchmark load
links every child, and the connected components on a hand-drawn graph."""

from __future__ import annotations

import itertools

import duckdb

from benchmarks.identity import benchmark_identity
from pipelines.identity.graph import connected_components
from tests.fixtures import identity
from tests.fixtures.identity import partition, resolve, write_ingested

con = identity.con  # the fixture: a working database in a temporary file


def test_rerun_replaces_the_index(con):
    settings_query = (
        "SELECT current_setting('preserve_insertion_order'), current_setting('enable_progress_bar')"
    )
    caller_settings = con.execute(settings_query).fetchone()
    resolve(con, enrollments=[{"record_key": "en_1", "triple_key": "t_A"}])
    summary = resolve(con, enrollments=[{"record_key": "en_2", "triple_key": "t_B"}])
    assert partition(con) == {frozenset({"enrollments:en_2"})}
    # The run's DuckDB settings do not leak into the caller's connection.
    assert con.execute(settings_query).fetchone() == caller_settings
    assert summary["children"] == 1
    assert summary["records"] == {
        "births": 0,
        "health_archives": 0,
        "health_checks": 0,
        "enrollments": 1,
    }


def test_a_warehouse_of_an_earlier_version_gets_the_view_and_no_stale_metrics(con):
    # An earlier identity wrote child_records as a table, and the linkage metrics dbt now
    # counts: a refresh replaces the one and drops the other.
    con.execute("CREATE SCHEMA identity")
    con.execute("CREATE TABLE identity.child_records AS SELECT 'stale' AS source")
    con.execute("CREATE TABLE identity.linkage_metrics AS SELECT 'stale' AS source")
    resolve(
        con,
        births=[{"record_key": "b_1", "birth_cert_key": "b_1", "triple_key": "t_A"}],
        enrollments=[{"record_key": "en_1", "triple_key": "t_A"}],
    )
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables"
        " WHERE table_schema = 'identity' AND table_name = 'child_records'"
    ).fetchone()
    assert kind == ("VIEW",)
    assert partition(con) == {frozenset({"births:b_1", "enrollments:en_1"})}
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'identity' ORDER BY 1"
    ).fetchall()
    assert tables == [("children",), ("record_classes",), ("sources",)]


def test_synthetic_benchmark_load_resolves_every_child(tmp_path):
    # 2,000 children, each built to link into exactly one child (see benchmark_identity).
    summary = benchmark_identity(2000, str(tmp_path / "bench.duckdb"))
    assert summary["children"] == 2000
    assert summary["ambiguous"] == 0
    assert summary["records"] == {
        "births": 1900,
        "health_archives": 2080,
        "health_checks": 14000,
        "enrollments": 667,
    }


def test_child_index_asset_materialises_through_dagster(tmp_path, monkeypatch):
    import dagster as dg

    from pipelines.defs.identity.assets import child_index, defs

    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(tmp_path / "yiyu.duckdb"))
    with duckdb.connect(str(tmp_path / "work.duckdb")) as setup:
        write_ingested(
            setup,
            births=[{"birth_cert_key": "bc_1", "triple_key": "t_A"}],
            health_archives=[{"archive_key": "ar_1", "birth_cert_key": "bc_1"}],
            enrollments=[{"record_key": "en_1", "triple_key": "t_B"}],
        )
    result = dg.materialize([child_index], resources=defs.resources)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key == dg.AssetKey(["identity", "child_index"])
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["children"] == 2
    assert metadata["ambiguous"] == 0
    assert metadata["records_births"] == 1
    assert metadata["records_health_checks"] == 0
    with duckdb.connect(str(tmp_path / "work.duckdb"), read_only=True) as written:
        assert partition(written) == {
            frozenset({"births:bc_1", "health_archives:ar_1"}),
            frozenset({"enrollments:en_1"}),
        }


def test_connected_components_on_a_hand_drawn_graph(con):
    # A pair, a star whose leaf 3 is smaller than its hub, a path, a triangle with a tail,
    # and a long chain listed in a scrambled order.
    chain = [40, 47, 41, 45, 42, 49, 43, 48, 44, 46]
    edges = [(2, 1), (10, 3), (10, 11), (12, 10), (20, 21), (22, 21), (22, 23)]
    edges += [(30, 31), (31, 32), (32, 30), (32, 33)]
    edges += list(itertools.pairwise(chain))
    con.execute("CREATE TEMP TABLE g (a BIGINT, b BIGINT)")
    con.executemany("INSERT INTO g VALUES (?, ?)", edges)
    connected_components(con, "SELECT a, b FROM g", "labels")
    components: dict[int, set[int]] = {}
    for node, label in con.execute("SELECT node, label FROM labels").fetchall():
        components.setdefault(label, set()).add(node)
    assert sorted(map(sorted, components.values())) == [
        [1, 2],
        [3, 10, 11, 12],
        [20, 21, 22, 23],
        [30, 31, 32, 33],
        list(range(40, 50)),
    ]
    # Every label is the smallest node of its own component.
    assert all(label == min(members) for label, members in components.items())
