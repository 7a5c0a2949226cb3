"""Child identity resolution (contract section 3) on hand-built `ingested.*` tables in a
temporary DuckDB file; every expected child is worked out by hand in the test."""

from __future__ import annotations

import itertools

import duckdb
import pytest

from pipelines.identity.resolve import benchmark_identity, resolve_identity

COLUMNS = {
    "births": {
        "record_key": "VARCHAR",
        "birth_cert_key": "VARCHAR",
        "id_key": "VARCHAR",
        "triple_key": "VARCHAR",
        "sex": "VARCHAR",
        "birth_date": "DATE",
        "community_code": "VARCHAR",
    },
    "health_archives": {
        "record_key": "VARCHAR",
        "archive_key": "VARCHAR",
        "id_key": "VARCHAR",
        "birth_cert_key": "VARCHAR",
        "triple_key": "VARCHAR",
        "sex": "VARCHAR",
        "birth_date": "DATE",
        "community_code": "VARCHAR",
        "facility_code": "VARCHAR",
        "archive_date": "DATE",
        "family_doctor_signed_on": "DATE",
        "closed_on": "DATE",
        "close_reason": "VARCHAR",
    },
    "health_checks": {
        "record_key": "VARCHAR",
        "archive_key": "VARCHAR",
        "id_key": "VARCHAR",
        "birth_cert_key": "VARCHAR",
        "triple_key": "VARCHAR",
        "sex": "VARCHAR",
        "birth_date": "DATE",
        "facility_code": "VARCHAR",
        "check_date": "DATE",
        "height_cm": "DOUBLE",
        "weight_kg": "DOUBLE",
        "hemoglobin_g_l": "DOUBLE",
    },
    "enrollments": {
        "record_key": "VARCHAR",
        "id_key": "VARCHAR",
        "birth_cert_key": "VARCHAR",
        "triple_key": "VARCHAR",
        "sex": "VARCHAR",
        "birth_date": "DATE",
        "institution_code": "VARCHAR",
        "class_type": "VARCHAR",
        "enroll_date": "DATE",
        "leave_date": "DATE",
        "monthly_fee_yuan": "DOUBLE",
    },
}
DEFAULTS = {"sex": "M", "birth_date": "2023-01-01"}


def write_ingested(con: duckdb.DuckDBPyConnection, **rows_by_source: list[dict]) -> None:
    """(Re)create the four child-level tables; births and archives get record_key from their
    certificate / archive key as ingestion writes it. Unnamed sources are empty."""
    con.execute("CREATE SCHEMA IF NOT EXISTS ingested")
    for source, columns in COLUMNS.items():
        cols = {"_file": "VARCHAR", "_row": "INTEGER", **columns}
        con.execute(
            f"CREATE OR REPLACE TABLE ingested.{source} "
            f"({', '.join(f'{c} {t}' for c, t in cols.items())})"
        )
        for i, row in enumerate(rows_by_source.get(source, []), start=2):
            row = {**DEFAULTS, **row}
            if source == "births":
                row["record_key"] = row["birth_cert_key"]
            if source == "health_archives":
                row["record_key"] = row["archive_key"]
            assert set(row) <= set(columns), set(row) - set(columns)
            values = {"_file": f"{source}.csv", "_row": i, **row}
            names = list(values)
            con.execute(
                f"INSERT INTO ingested.{source} ({', '.join(names)}) "
                f"VALUES ({', '.join('?' for _ in names)})",
                [values[n] for n in names],
            )


def partition(con: duckdb.DuckDBPyConnection) -> set[frozenset[str]]:
    """The children as sets of 'source:record_key'."""
    rows = con.execute(
        "SELECT list(source || ':' || record_key) FROM identity.child_records GROUP BY child_key"
    ).fetchall()
    return {frozenset(members) for (members,) in rows}


def methods(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT source || ':' || record_key, link_method FROM identity.child_records"
        ).fetchall()
    )


def metrics(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """source -> (records, id_number, birth_cert, archive_no, demographics, ambiguous,
    unlinked, conflicts)."""
    return {
        row[0]: tuple(row[1:])
        for row in con.execute(
            """SELECT source, records, linked_by_id_number, linked_by_birth_cert,
                linked_by_archive_no, linked_by_demographics, ambiguous, unlinked, conflicts
            FROM identity.linkage_metrics"""
        ).fetchall()
    }


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))
    yield connection
    connection.close()


def resolve(con, **rows_by_source):
    write_ingested(con, **rows_by_source)
    return resolve_identity(con)


def test_shared_id_links_all_four_sources(con):
    resolve(
        con,
        births=[{"birth_cert_key": "bc_1", "id_key": "id_A", "triple_key": "t_A"}],
        health_archives=[{"archive_key": "ar_1", "id_key": "id_A", "triple_key": "t_A"}],
        health_checks=[
            {"record_key": "ck_1", "archive_key": "ar_1"},
            {"record_key": "ck_2", "id_key": "id_A"},
        ],
        enrollments=[{"record_key": "en_1", "id_key": "id_A", "triple_key": "t_A"}],
    )
    assert partition(con) == {
        frozenset(
            {
                "births:bc_1",
                "health_archives:ar_1",
                "health_checks:ck_1",
                "health_checks:ck_2",
                "enrollments:en_1",
            }
        )
    }
    assert methods(con) == {
        "births:bc_1": "id_number",
        "health_archives:ar_1": "id_number",
        "health_checks:ck_1": "archive_no",
        "health_checks:ck_2": "id_number",
        "enrollments:en_1": "id_number",
    }
    assert metrics(con) == {
        "births": (1, 1, 0, 0, 0, 0, 0, 0),
        "health_archives": (1, 1, 0, 0, 0, 0, 0, 0),
        "health_checks": (2, 1, 0, 1, 0, 0, 0, 0),
        "enrollments": (1, 1, 0, 0, 0, 0, 0, 0),
    }


def test_each_record_carries_its_date_community_and_closing(con):
    resolve(
        con,
        births=[
            {"birth_cert_key": "bc_1", "triple_key": "t_A", "birth_date": "2022-03-04"}
            | {"community_code": "c1"}
        ],
        health_archives=[
            {"archive_key": "ar_1", "triple_key": "t_A", "birth_date": "2022-03-04"}
            | {"archive_date": "2022-04-01", "community_code": "c2"}
            | {"closed_on": "2023-01-02", "close_reason": "moved_out"}
        ],
        health_checks=[
            {"record_key": "ck_1", "archive_key": "ar_1", "check_date": "2022-07-08"},
            {"record_key": "ck_2", "triple_key": "t_B", "check_date": "2022-09-10"},
        ],
        enrollments=[{"record_key": "en_1", "triple_key": "t_C", "enroll_date": "2023-02-03"}],
    )
    rows = con.execute(
        """SELECT source, record_key, record_date::VARCHAR, community_code, closed_on::VARCHAR,
            close_reason FROM identity.child_records ORDER BY source, record_key"""
    ).fetchall()
    assert rows == [
        ("births", "bc_1", "2022-03-04", "c1", None, None),
        ("enrollments", "en_1", "2023-02-03", None, None, None),
        ("health_archives", "ar_1", "2022-04-01", "c2", "2023-01-02", "moved_out"),
        ("health_checks", "ck_1", "2022-07-08", None, None, None),
        ("health_checks", "ck_2", "2022-09-10", None, None, None),
    ]


def test_cert_only_birth_joins_id_only_archive_through_triple(con):
    resolve(
        con,
        births=[{"birth_cert_key": "bc_1", "triple_key": "t_A"}],
        health_archives=[{"archive_key": "ar_1", "id_key": "id_A", "triple_key": "t_A"}],
        health_checks=[{"record_key": "ck_1", "archive_key": "ar_1", "triple_key": "t_A"}],
    )
    assert partition(con) == {
        frozenset({"births:bc_1", "health_archives:ar_1", "health_checks:ck_1"})
    }
    # The birth shares no identifier with anyone: it is linked by the triple only.
    assert methods(con) == {
        "births:bc_1": "demographics",
        "health_archives:ar_1": "archive_no",
        "health_checks:ck_1": "archive_no",
    }


def test_mover_archived_twice_is_one_child(con):
    resolve(
        con,
        health_archives=[
            {
                "archive_key": "ar_1",
                "id_key": "id_A",
                "triple_key": "t_A",
                "archive_date": "2023-02-01",
                "community_code": "c1",
            },
            # Second archive after moving: no ID number recorded, same triple.
            {
                "archive_key": "ar_2",
                "triple_key": "t_A",
                "archive_date": "2023-08-01",
                "community_code": "c2",
            },
        ],
        health_checks=[
            {"record_key": "ck_1", "archive_key": "ar_1"},
            {"record_key": "ck_2", "archive_key": "ar_2"},
        ],
    )
    assert partition(con) == {
        frozenset(
            {
                "health_archives:ar_1",
                "health_archives:ar_2",
                "health_checks:ck_1",
                "health_checks:ck_2",
            }
        )
    }
    assert con.execute(
        "SELECT has_archive, has_birth_record, first_archive_date::VARCHAR, n_records"
        " FROM identity.children"
    ).fetchall() == [(True, False, "2023-02-01", 4)]
    assert metrics(con)["health_archives"] == (2, 0, 0, 2, 0, 0, 0, 0)


def test_namesakes_with_different_ids_stay_apart_and_idless_match_is_ambiguous(con):
    resolve(
        con,
        health_archives=[
            {"archive_key": "ar_1", "id_key": "id_A", "triple_key": "t_X"},
            {"archive_key": "ar_2", "id_key": "id_B", "triple_key": "t_X"},
        ],
        enrollments=[
            {"record_key": "en_1", "triple_key": "t_X"},
            {"record_key": "en_2", "triple_key": "t_X"},
        ],
    )
    assert partition(con) == {
        frozenset({"health_archives:ar_1"}),
        frozenset({"health_archives:ar_2"}),
        frozenset({"enrollments:en_1"}),
        frozenset({"enrollments:en_2"}),
    }
    assert methods(con) == {
        "health_archives:ar_1": "none",
        "health_archives:ar_2": "none",
        "enrollments:en_1": "ambiguous",
        "enrollments:en_2": "ambiguous",
    }
    assert metrics(con)["enrollments"] == (2, 0, 0, 0, 0, 2, 0, 0)
    assert con.execute(
        "SELECT count(*) FILTER (WHERE is_ambiguous), count(*) FROM identity.children"
    ).fetchone() == (2, 4)


def test_two_birth_certificates_in_a_group_are_a_conflict(con):
    resolve(
        con,
        births=[
            {"birth_cert_key": "bc_1", "triple_key": "t_X"},
            {"birth_cert_key": "bc_2", "triple_key": "t_X"},
        ],
        health_checks=[{"record_key": "ck_1", "triple_key": "t_X"}],
    )
    assert partition(con) == {
        frozenset({"births:bc_1"}),
        frozenset({"births:bc_2"}),
        frozenset({"health_checks:ck_1"}),
    }
    assert methods(con)["health_checks:ck_1"] == "ambiguous"


def test_idless_records_of_one_child_form_one_child(con):
    resolve(
        con,
        health_checks=[
            {"record_key": "ck_1", "triple_key": "t_Y"},
            {"record_key": "ck_2", "triple_key": "t_Y"},
            {"record_key": "ck_3", "triple_key": "t_Z"},
        ],
        enrollments=[{"record_key": "en_1", "triple_key": "t_Y"}],
    )
    assert partition(con) == {
        frozenset({"health_checks:ck_1", "health_checks:ck_2", "enrollments:en_1"}),
        frozenset({"health_checks:ck_3"}),
    }
    assert methods(con) == {
        "health_checks:ck_1": "demographics",
        "health_checks:ck_2": "demographics",
        "health_checks:ck_3": "none",
        "enrollments:en_1": "demographics",
    }


def test_twins_whose_births_carried_the_mothers_id_stay_apart(con):
    # Ingestion dropped the mother's ID from both birth records (id_key NULL); the twins
    # share birth date and sex but not name, certificate or archive.
    resolve(
        con,
        births=[
            {"birth_cert_key": "bc_1", "triple_key": "t_T1", "community_code": "c1"},
            {"birth_cert_key": "bc_2", "triple_key": "t_T2", "community_code": "c1"},
        ],
        health_archives=[
            {
                "archive_key": "ar_1",
                "birth_cert_key": "bc_1",
                "id_key": "id_T1",
                "triple_key": "t_T1",
            },
            {
                "archive_key": "ar_2",
                "birth_cert_key": "bc_2",
                "id_key": "id_T2",
                "triple_key": "t_T2",
            },
        ],
    )
    assert partition(con) == {
        frozenset({"births:bc_1", "health_archives:ar_1"}),
        frozenset({"births:bc_2", "health_archives:ar_2"}),
    }
    assert set(methods(con).values()) == {"birth_cert"}
    assert con.execute(
        "SELECT birth_community_code, has_birth_record, has_archive FROM identity.children"
    ).fetchall() == [("c1", True, True), ("c1", True, True)]


def test_record_with_dropped_bad_id_still_links_by_its_certificate(con):
    # The archive's ID number failed its check character: ingestion left id_key NULL.
    resolve(
        con,
        births=[{"birth_cert_key": "bc_1", "id_key": "id_A", "triple_key": "t_A"}],
        health_archives=[{"archive_key": "ar_1", "birth_cert_key": "bc_1", "triple_key": "t_A"}],
        enrollments=[{"record_key": "en_1", "id_key": "id_A", "triple_key": "t_A"}],
    )
    assert partition(con) == {
        frozenset({"births:bc_1", "health_archives:ar_1", "enrollments:en_1"})
    }
    assert methods(con) == {
        "births:bc_1": "id_number",
        "health_archives:ar_1": "birth_cert",
        "enrollments:en_1": "id_number",
    }


def test_group_is_the_component_over_all_triples_of_an_identifier_child(con):
    # id_A's records carry two triples (a name typo); t_2 is shared with id_B, so t_1 and
    # t_2 form one group with two ID numbers: the ID-less record on t_1 is ambiguous.
    resolve(
        con,
        health_archives=[
            {"archive_key": "ar_1", "id_key": "id_A", "triple_key": "t_1"},
            {"archive_key": "ar_2", "id_key": "id_B", "triple_key": "t_2"},
        ],
        health_checks=[{"record_key": "ck_1", "archive_key": "ar_1", "triple_key": "t_2"}],
        enrollments=[{"record_key": "en_1", "triple_key": "t_1"}],
    )
    assert partition(con) == {
        frozenset({"health_archives:ar_1", "health_checks:ck_1"}),
        frozenset({"health_archives:ar_2"}),
        frozenset({"enrollments:en_1"}),
    }
    assert methods(con)["enrollments:en_1"] == "ambiguous"


def test_attributes_come_from_the_best_source_and_conflicts_are_counted(con):
    resolve(
        con,
        health_archives=[
            {
                "archive_key": "ar_1",
                "id_key": "id_A",
                "sex": "F",
                "birth_date": "2023-03-01",
                "archive_date": "2023-04-01",
            }
        ],
        health_checks=[
            {"record_key": "ck_1", "archive_key": "ar_1", "sex": "M", "birth_date": "2023-03-02"}
        ],
        enrollments=[
            {"record_key": "en_1", "id_key": "id_A", "sex": "M", "birth_date": "2023-03-03"},
            {"record_key": "en_2", "id_key": "id_B", "birth_date": "2022-05-05"},
        ],
    )
    assert con.execute(
        """SELECT sex, birth_date::VARCHAR, birth_date_conflict, sex_conflict, n_records
        FROM identity.children ORDER BY n_records DESC"""
    ).fetchall() == [
        ("F", "2023-03-01", True, True, 3),
        ("M", "2022-05-05", False, False, 1),
    ]
    # conflicts: records of children whose records disagree (3); en_2 is unlinked.
    assert metrics(con) == {
        "births": (0, 0, 0, 0, 0, 0, 0, 0),
        "health_archives": (1, 1, 0, 0, 0, 0, 0, 1),
        "health_checks": (1, 0, 0, 1, 0, 0, 0, 1),
        "enrollments": (2, 1, 0, 0, 0, 0, 1, 1),
    }


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


def test_a_warehouse_holding_child_records_as_a_table_gets_the_view(con):
    # Before round 7 identity wrote child_records as a table; a refresh replaces it.
    con.execute("CREATE SCHEMA identity")
    con.execute("CREATE TABLE identity.child_records AS SELECT 'stale' AS source")
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

    from pipelines.defs.identity.assets import child_index

    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(tmp_path / "yiyu.duckdb"))
    with duckdb.connect(str(tmp_path / "work.duckdb")) as setup:
        write_ingested(
            setup,
            births=[{"birth_cert_key": "bc_1", "triple_key": "t_A"}],
            health_archives=[{"archive_key": "ar_1", "birth_cert_key": "bc_1"}],
            enrollments=[{"record_key": "en_1", "triple_key": "t_B"}],
        )
    result = dg.materialize([child_index])
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
    from pipelines.identity.resolve import connected_components

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
