"""The refresh's Dagster instance: its pooled event log writes what Dagster's own reads."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.operations.dagster_storage import (
    ENGINES_KEPT,
    PooledSqliteEventLogStorage,
    dagster_instance,
)


@dg.asset
def counted() -> int:
    return 3


@dg.asset_check(asset=counted, blocking=True)
def counted_is_positive(counted: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=counted > 0)


JOB = dg.Definitions(
    assets=[counted], asset_checks=[counted_is_positive]
).resolve_implicit_global_asset_job_def()


def _dagster_events(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.dagster_event_type.value for e in instance.all_logs(run_id) if e.is_dagster_event]


def test_runs_stored_by_the_pooled_log_read_back_with_dagsters_default_storage(yiyu_env):
    # The same job stored by Dagster's default storage, in a home of its own.
    (yiyu_env / "default_home").mkdir()
    with dg.instance_for_test(temp_dir=str(yiyu_env / "default_home")) as reference:
        assert type(reference.event_log_storage) is SqliteEventLogStorage
        run = JOB.execute_in_process(instance=reference)
        expected = sorted(_dagster_events(reference, run.run_id))

    with dagster_instance() as instance:
        assert type(instance.event_log_storage) is PooledSqliteEventLogStorage
        results = [JOB.execute_in_process(instance=instance) for _ in range(ENGINES_KEPT + 2)]
        # one engine per file in use, older ones closed: bounded however many runs it stores
        assert len(instance.event_log_storage._engines) <= ENGINES_KEPT

    # The UI and the daemon open the same home with Dagster's default storage class.
    with dg.DagsterInstance.from_config(str(yiyu_env / "dagster_home")) as default:
        assert type(default.event_log_storage) is SqliteEventLogStorage
        for result in results:
            assert result.success
            stored = _dagster_events(default, result.run_id)
            assert sorted(stored) == expected
        latest = default.get_latest_materialization_event(dg.AssetKey("counted"))
        assert latest.run_id == results[-1].run_id
        check = default.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("counted"), "counted_is_positive")]
        )
        assert [r.run_id for r in check.values()] == [results[-1].run_id]


def test_a_home_that_chooses_its_storage_keeps_it(yiyu_env):
    home = yiyu_env / "dagster_home"
    (home / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {home}\n")
    with dagster_instance() as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
