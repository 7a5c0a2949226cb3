"""The marts fixture delivered as raw CSV files through the whole pipeline up to the marts
(ingestion, identity, quality checks, dbt) must give the indicators worked out by hand in
tests/test_marts.py."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.fixtures.marts.raw import write_raw
from tests.fixtures.marts.warehouse import AS_OF, PERIOD_START
from tests.test_marts import (
    assert_indicators_match_the_hand_calculation,
    assert_scorecard_matches_the_hand_calculation,
    district_and_street_rows,
    rows_of,
)

pytestmark = pytest.mark.slow  # raw files through the whole pipeline


def test_raw_delivery_through_the_pipeline_gives_the_hand_worked_indicators(
    yiyu_env: Path, monkeypatch: pytest.MonkeyPatch
):
    write_raw(yiyu_env / "raw")
    monkeypatch.setenv("YIYU_AS_OF", AS_OF)
    monkeypatch.setenv("YIYU_PERIOD_START", PERIOD_START)
    from pipelines.defs.identity.assets import defs as identity_defs
    from pipelines.defs.ingest.assets import defs as ingestion_defs
    from pipelines.defs.marts.assets import defs as marts_defs
    from pipelines.defs.quality.checks import defs as quality_defs

    result = dg.materialize(
        [
            *ingestion_defs.assets,
            *identity_defs.assets,
            *marts_defs.assets,
            *quality_defs.asset_checks,
        ],
        resources={
            **ingestion_defs.resources,
            **identity_defs.resources,
            **marts_defs.resources,
            **quality_defs.resources,
        },
        raise_on_error=False,
    )
    assert result.success, [
        str(e.step_failure_data.error) for e in result.get_step_failure_events()
    ]

    con = duckdb.connect(str(yiyu_env / "warehouse" / "work.duckdb"), read_only=True)
    try:
        assert_indicators_match_the_hand_calculation(district_and_street_rows(con))
        assert_scorecard_matches_the_hand_calculation(
            rows_of(con, "select * from marts.evaluation_scorecard")
        )
        records = dict(con.execute("select source, records from marts.linkage_quality").fetchall())
    finally:
        con.close()
    # 12 births (K09 has none), 12 archives, 29 checks, 9 enrollments.
    assert records == {"births": 12, "health_archives": 12, "health_checks": 29, "enrollments": 9}
