"""The committed suite files: valid GE suites, complete meta, and in step with sources.py."""

from __future__ import annotations

import json

import pytest

from pipelines.ingest.sources import SOURCES
from pipelines.quality.suites import CROSS_SOURCE, kwargs_of, load_suite

# Raw required column -> the ingested column that carries it (docs/architecture.md).
PSEUDONYMISED = {
    "births": {"birth_cert_no": "birth_cert_key", "child_name": "triple_key"},
    "health_archives": {"archive_no": "archive_key", "child_name": "triple_key"},
    "health_checks": {"check_no": "record_key"},
    "enrollments": {"enrollment_no": "record_key", "child_name": "triple_key"},
    "staff": {"id_number": "staff_key"},
}
# child_name only survives inside triple_key, whose fill is a warning (a name can be missing
# from an otherwise linkable record after repair); every other required column is blocking.
WARN_ONLY = {"triple_key"}


@pytest.mark.parametrize("dataset", [*SOURCES, CROSS_SOURCE])
def test_every_suite_loads_with_complete_meta(dataset):
    suite = load_suite(dataset)
    assert suite.expectations
    for e in suite.expectations:
        assert e.meta["severity"] in ("blocking", "warn")
        assert e.meta["dimension"] in ("conformance", "completeness", "plausibility")


@pytest.mark.parametrize("dataset", list(SOURCES))
def test_required_columns_are_checked_not_null(dataset):
    not_null: dict[str, list[tuple[str, float]]] = {}
    for e in load_suite(dataset).expectations:
        if e.expectation_type == "expect_column_values_to_not_be_null":
            kwargs = kwargs_of(e)
            rule = (e.meta["severity"], kwargs.get("mostly", 1.0))
            not_null.setdefault(kwargs["column"], []).append(rule)
    for raw in SOURCES[dataset].required:
        column = PSEUDONYMISED.get(dataset, {}).get(raw, raw)
        assert column in not_null, f"{dataset}.{column} has no not-null expectation"
        if column not in WARN_ONLY:
            assert ("blocking", 1.0) in not_null[column]


@pytest.mark.parametrize("dataset", list(SOURCES))
def test_code_lists_match_the_source_declarations(dataset):
    declared = {c.name: set(c.codes) for c in SOURCES[dataset].columns if c.codes}
    if any(c.kind == "sex" for c in SOURCES[dataset].columns):
        declared["sex"] = {"M", "F"}
    in_set = {
        kwargs_of(e)["column"]: set(kwargs_of(e)["value_set"])
        for e in load_suite(dataset).expectations
        if e.expectation_type == "expect_column_values_to_be_in_set"
    }
    assert in_set == declared


@pytest.mark.parametrize("dataset", list(SOURCES))
def test_each_table_size_is_held_against_the_last_good_run(dataset):
    (band,) = [
        e.meta["relative_to_last_good"]
        for e in load_suite(dataset).expectations
        if "relative_to_last_good" in e.meta
    ]
    assert 0 < band["min_ratio"] < 1 < band["max_ratio"]


def test_a_suite_without_severity_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("YIYU_EXPECTATIONS_DIR", str(tmp_path))
    suite = {
        "name": "births",
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "sex"},
                "meta": {"name": "sex_not_null", "dimension": "completeness"},
            }
        ],
    }
    (tmp_path / "births.json").write_text(json.dumps(suite), encoding="utf-8")
    with pytest.raises(ValueError, match="severity"):
        load_suite("births")
