"""A source that stops arriving warns in Dagster and in the quality history."""

from __future__ import annotations

import os
import time

import dagster as dg
import duckdb
import pytest

from pipelines.defs.ingest.assets import ingestion_asset
from pipelines.ingest.sources import SOURCES
from pipelines.resources import RESOURCES


def _materialise(instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [ingestion_asset(SOURCES["parenting_surveys"])],
        instance=instance,
        resources=RESOURCES,
        raise_on_error=True,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


@pytest.mark.slow
def test_stale_source_warns_then_resolves_when_a_file_lands(yiyu_env):
    folder = yiyu_env / "raw" / "parenting_surveys"
    folder.mkdir()
    old = folder / "2023Q1.csv"
    old.write_text("survey_no,community_code,survey_date,passed\nS1,C1,2023-03-01,是\n")
    hundred_days_ago = time.time() - 100 * 86400
    os.utime(old, (hundred_days_ago, hundred_days_ago))  # surveys are expected every 92 days

    with dg.instance_for_test() as instance:
        stale = _materialise(instance)
        assert not stale.passed
        assert stale.severity == dg.AssetCheckSeverity.WARN  # a warning: the marts still build
        assert "2023Q1.csv" in stale.description and "100." in stale.description

        new = folder / "2023Q2.csv"
        new.write_text("survey_no,community_code,survey_date,passed\nS2,C1,2023-06-01,否\n")
        assert _materialise(instance).passed

    con = duckdb.connect(str(yiyu_env / "warehouse" / "work.duckdb"), read_only=True)
    history = con.execute(
        "SELECT passed, status_change, observed_value FROM quality.check_results "
        "WHERE dataset = 'raw/parenting_surveys' AND check_name = 'freshness' "
        "ORDER BY run_started_at"
    ).fetchall()
    con.close()
    assert [(p, s) for p, s, _ in history] == [(False, "new"), (True, "resolved")]
    assert history[0][2].startswith("100.")
