"""The fault matrix (contract section 7): a failure injected at each step boundary (each
ingestion source, the checks, identity, dbt, the publish gate, publishing, the report) and a
bad setting each leave the published file and its report byte for byte as they were; the next
refresh runs again (never "nothing new"), and the next plain one rebuilds; every failed run,
not the bad setting, is in meta.refresh_runs after it, with its reason.

The cases run in sequence on one warehouse, as a bad week would: each failed run leaves its
working state to the next, which must still run (it reaches its own fault: exit 1, not the
exit 0 of "nothing new") and leave the published file alone; the last, plain refresh rebuilds.
There are two such weeks, the ingestion faults and the later ones, each on its own copy of the
base refresh, run side by side: the refreshes of one folder run one after another.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipelines.ingest.sources import SOURCES
from tests.processes import (
    copy_tree,
    late_delivery,
    marts,
    published,
    published_state,
    refresh,
    refresh_runs,
    run_id_of,
)

pytestmark = pytest.mark.slow

INGESTION = [f"ingest_{source}" for source in SOURCES]
AFTER_INGESTION = ["checks", "identity", "dbt", "publish_gate", "report", "publishing"]


def _bad_week(root: Path, boundaries: list[str]) -> None:
    """A fault at each of `boundaries` in turn, a bad setting, then a plain refresh."""
    raw = root / "raw"
    base_runs = set(refresh_runs(published(root)))
    before = published_state(root)
    marts_before = marts(published(root))
    late_delivery(raw, root / "warehouse" / "work.duckdb")  # a run that got through would show

    failed = {}
    for point in boundaries:
        result = refresh(root, raw, expect=1, YIYU_FAILPOINT=f"{point}:raise")
        assert f"fault injected at failpoint {point}" in result.stderr
        assert published_state(root) == before, f"the published file changed by a fault at {point}"
        failed[run_id_of(result)] = point
    refresh(root, raw, expect=2, YIYU_SMALL_CELL_K="1")
    assert published_state(root) == before

    done = refresh(root, raw)
    assert "nothing new" not in done.stderr
    assert marts(published(root)) != marts_before  # rebuilt, with the late delivery
    runs = refresh_runs(published(root))
    assert set(runs) == base_runs | set(failed) | {run_id_of(done)}  # no bad-setting row
    for run, point in failed.items():
        outcome, reason = runs[run]
        assert outcome == "failed", (point, outcome)
        assert f"fault injected at failpoint {point}" in reason, (point, reason)
    assert runs[run_id_of(done)] == ("published", None)


def test_a_fault_at_each_boundary_leaves_the_published_file_as_it_was(tmp_path, base_refresh):
    weeks = {"ingestion": INGESTION, "after_ingestion": AFTER_INGESTION}
    roots = {name: copy_tree(base_refresh, tmp_path / name) for name in weeks}
    with ThreadPoolExecutor(max_workers=len(weeks)) as pool:
        done = [pool.submit(_bad_week, roots[name], weeks[name]) for name in weeks]
        for future in done:
            future.result()  # an assertion failed in a week is raised here
