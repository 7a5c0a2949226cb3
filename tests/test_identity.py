"""Child identity resolution (contract section 3) on hand-built `ingested.*` tables in a
temporary DuckDB file; every expected child is worked out by hand in the test."""

from __future__ import annotations

from tests.fixtures import identity
from tests.fixtures.identity import methods, metrics, partition, resolve

con = identity.con  # the fixture: a working database in a temporary file


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


def test_handle_keys_come_from_the_best_source_then_the_smaller_key(con):
    # Child A: its certificate from the birth record although its check carries a smaller
    # one; its ID from the archive (the birth record's was the mother's, dropped: NULL)
    # although the check's is smaller. Child B: two enrollments linked by one certificate,
    # the smaller of their IDs. Child C: a check with an archive number only: neither.
    resolve(
        con,
        births=[{"birth_cert_key": "bc_5", "triple_key": "t_A"}],
        health_archives=[{"archive_key": "ar_1", "birth_cert_key": "bc_5", "id_key": "id_8"}],
        health_checks=[
            {"record_key": "ck_1", "archive_key": "ar_1", "birth_cert_key": "bc_1"}
            | {"id_key": "id_2"},
            {"record_key": "ck_9", "archive_key": "ar_9", "triple_key": "t_C"},
        ],
        enrollments=[
            {"record_key": "en_1", "birth_cert_key": "bc_7", "id_key": "id_6"},
            {"record_key": "en_2", "birth_cert_key": "bc_7", "id_key": "id_4"},
        ],
    )
    assert partition(con) == {
        frozenset({"births:bc_5", "health_archives:ar_1", "health_checks:ck_1"}),
        frozenset({"enrollments:en_1", "enrollments:en_2"}),
        frozenset({"health_checks:ck_9"}),
    }
    assert sorted(
        con.execute("SELECT n_records, birth_cert_key, id_key FROM identity.children").fetchall()
    ) == [(1, None, None), (2, "bc_7", "id_4"), (3, "bc_5", "id_8")]
