"""The dbt project on Spark gives DuckDB's tables (docs/scale-out.md).

The shipped sample is refreshed on DuckDB (the shared `sample_refresh`), its sources are
exported as Parquet and the whole project is built on Spark with `dbt build` (seeds, models,
data tests and unit tests) in a fresh warehouse and metastore. Every table the Spark build
stores, marts first, must have the digest of the same table in the working database; a
model added later is compared without a change here.

Needs dbt-spark and pyspark in their own venv (YIYU_SPARK_VENV, default .venv-spark) and a
Java runtime: `bash dev.sh test` installs both. Skipped without them, except in CI.
"""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest

from pipelines.config import Settings
from pipelines.marts.spark import (
    build_on_spark,
    compare_digests,
    parquet_relation,
    spark_dbt,
    spark_venv,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]

CONTRACT_MARTS = {
    "marts.indicator_values",
    "marts.evaluation_scorecard",
    "marts.linkage_quality",
    "marts.indicators",
}


@pytest.fixture(scope="session")
def spark_dbt_path():
    """Session-scoped so that it is checked before the sample is refreshed."""
    dbt = spark_dbt()
    missing = None
    if dbt is None:
        missing = f"no dbt-spark venv at {spark_venv()}"
    elif shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing = "no Java runtime"
    if missing is None:
        return dbt
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing}: CI must run the Spark test (bash dev.sh test installs it)")
    pytest.skip(f"{missing} (bash dev.sh test installs it)")


@pytest.fixture(scope="module")
def spark_build(spark_dbt_path, sample_refresh, tmp_path_factory):
    settings = Settings.from_env(sample_refresh.env)
    build = build_on_spark(settings, tmp_path_factory.mktemp("spark"), spark_dbt_path)
    assert build.returncode == 0, build.failures()
    return settings, build


@pytest.fixture(scope="module")
def work(spark_build):
    settings, _ = spark_build
    con = duckdb.connect(str(settings.work_db), read_only=True)
    yield con
    con.close()


def test_every_node_passes_on_spark_unit_tests_included(spark_build):
    _, build = spark_build
    results = build.run_results()["results"]
    assert results and {r["status"] for r in results} <= {"success", "pass"}
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert {"seed", "model", "test", "unit_test"} <= kinds


def test_spark_tables_have_duckdbs_digests(spark_build, work):
    _, build = spark_build
    compared = compare_digests(work, build)
    assert set(compared) >= CONTRACT_MARTS
    assert all(compared[mart][0][0] > 0 for mart in CONTRACT_MARTS)
    different = {name: sides for name, sides in compared.items() if sides[0] != sides[1]}
    assert different == {}


def test_one_changed_value_makes_the_comparison_fail(spark_build, work):
    """One cell of Spark's indicator_values moved by the smallest step a double takes: the
    comparison names that table, and that table only."""
    _, build = spark_build
    spark_rows = parquet_relation(build.table_path("marts", "indicator_values"))
    one_row = (
        "indicator_code = 'record_filing_rate' AND scope_level = 'district' "
        "AND period = (SELECT min(period) FROM marts.indicator_values)"
    )
    altered = (
        f"(SELECT * REPLACE (CASE WHEN {one_row} THEN nextafter(value, 2.0) ELSE value END "
        f"AS value) FROM {spark_rows})"
    )
    assert work.execute(f"SELECT count(*) FROM {spark_rows} WHERE {one_row}").fetchone()[0] == 1
    compared = compare_digests(work, build, {"marts.indicator_values": altered})
    different = {name for name, (duck, spark) in compared.items() if duck != spark}
    assert different == {"marts.indicator_values"}


def test_the_run_settings_reach_spark_as_data(spark_build, work):
    """Spark reads the settings the DuckDB build read: the exported one-row meta.run_settings."""
    _, build = spark_build
    exported = parquet_relation(build.folder / "sources" / "meta" / "run_settings")
    written = work.execute("SELECT * FROM meta.run_settings").fetchall()
    assert len(written) == 1
    assert work.execute(f"SELECT * FROM {exported}").fetchall() == written
