"""`yiyu refresh`'s console: a line per stage and a summary for people, the full event stream in a
log file beside the warehouse (and on the console with -v), plain text when not a terminal."""

import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.config import REPO_ROOT
from pipelines.operations.console import AuditFacts, Console, following
from pipelines.operations.run_log import log_file, prune

YIYU = str(Path(sys.executable).with_name("yiyu"))
MAX_LINES = 60


def _job_with_a_failure() -> dg.JobDefinition:
    """An ingestion-like asset (its metadata, a progress line, a warning, a warned check) and a
    downstream asset that fails."""

    @dg.asset(
        key=["ingested", "births"],
        check_specs=[dg.AssetCheckSpec("freshness", asset=dg.AssetKey(["ingested", "births"]))],
    )
    def births(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        context.log.info("births [1/2] 2023/a.csv: 7 rows, parsed")
        context.log.warning("births/2023/b.csv rejected: file lacks required column(s): sex")
        return dg.MaterializeResult(
            metadata={
                "files": 2,
                "files_rejected": 1,
                "rows_read": 1200,
                "rows_loaded": 1100,
                "rows_quarantined": 60,
                "rows_superseded": 40,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="freshness",
                    passed=False,
                    severity=dg.AssetCheckSeverity.WARN,
                    description="no new file for 40 days",
                )
            ],
        )

    @dg.asset(deps=[births])
    def published_warehouse() -> None:
        raise dg.Failure(description="publish gate: marts.indicator_values is empty")

    defs = dg.Definitions(
        assets=[births, published_warehouse], jobs=[dg.define_asset_job("refresh")]
    )
    return defs.resolve_job_def("refresh")


@pytest.mark.parametrize("live", [False, True])
def test_the_console_says_each_stage_its_warnings_failures_and_a_summary(tmp_path, live):
    """The same lines with or without the live status line (a terminal's)."""
    run_id = str(uuid.uuid4())
    screen = io.StringIO()
    console = Console(screen, live=live)
    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        following(instance, run_id, console),
    ):
        result = _job_with_a_failure().execute_in_process(
            instance=instance, run_id=run_id, raise_on_error=False
        )
    audit = AuditFacts(
        rejected=[("births", "2023/b.csv", "file lacks required column(s): sex")],
        reasons=[("date_in_future", 40), ("invalid_code", 20)],
    )
    console.summary(result.success, 1.25, run_id, audit, tmp_path / "the.log")
    # Off a terminal, rich ends its (transient) live display with an empty line.
    lines = [line for line in screen.getvalue().splitlines() if line or not live]
    assert lines == [
        "births            2 files (1 rejected): 1,100 rows loaded, 60 quarantined, 40 superseded",
        "  WARNING: births/2023/b.csv rejected: file lacks required column(s): sex",
        "  WARNING: check ingested/births freshness: no new file for 40 days",
        "FAILED: step published_warehouse: publish gate: marts.indicator_values is empty",
        "checks            1 evaluated: 0 failed, 1 warned",
        f"refresh FAILED in 1.2 s (run {run_id})",
        "  published         nothing: the last good refresh stays published",
        "  failed            published_warehouse (reasons above; later steps skipped)",
        "  rows              1,200 read: 1,100 loaded, 60 quarantined, 40 superseded",
        "  rejected          births/2023/b.csv: file lacks required column(s): sex",
        "  withdrawn         none",
        "  quarantine        date_in_future 40, invalid_code 20",
        "  checks            warned: ingested/births freshness",
        f"  log               {tmp_path / 'the.log'}",
    ]


def test_log_files_are_named_by_local_time_and_run_and_the_last_ones_kept(tmp_path):
    at = datetime(2024, 1, 31, 2, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    path = log_file(tmp_path, "0123abcd-ffff", "Asia/Shanghai", now=at)
    assert path == tmp_path / "logs" / "refresh-20240131-020005-0123abcd.log"
    folder = tmp_path / "logs"
    folder.mkdir()
    for day in range(1, 36):
        old = folder / f"refresh-202401{day:02d}-020000-{day:08d}.log"
        old.write_text("x")
        os.utime(old, (day * 86400, day * 86400))
    (folder / "notes.txt").write_text("kept")
    removed = prune(folder, keep=30)
    assert sorted(p.name[14:16] for p in removed) == ["01", "02", "03", "04", "05"]
    assert len(list(folder.glob("refresh-*.log"))) == 30
    assert (folder / "notes.txt").exists()


# End to end: real refreshes of the shipped sample.


def _manifest() -> dict:
    return json.loads((REPO_ROOT / "raw" / "MANIFEST.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    """A refresh of the shipped sample with stdout and stderr into one file, as `> log 2>&1`."""
    root = tmp_path_factory.mktemp("console")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIYU_", "DAGSTER_"))}
    env.update(
        YIYU_RAW_DIR=str(REPO_ROOT / "raw"),
        YIYU_WAREHOUSE_PATH=str(root / "warehouse" / "yiyu.duckdb"),
        YIYU_LINK_SECRET="console-test-secret-not-for-production",
        DAGSTER_HOME=str(root / "dagster_home"),
    )
    with (root / "console.txt").open("w") as out:
        done = subprocess.run([YIYU, "refresh"], env=env, stdout=out, stderr=subprocess.STDOUT)
    text = (root / "console.txt").read_text(encoding="utf-8")
    assert done.returncode == 0, text[-3000:]
    return root, env, text


@pytest.mark.slow
def test_a_refresh_into_a_file_is_short_plain_and_names_what_it_did(refreshed):
    root, _, text = refreshed
    lines = text.splitlines()
    assert len(lines) <= MAX_LINES, text
    assert "DEBUG" not in text and "\x1b" not in text
    sources = _manifest()["sources"]
    for source, delivery in sources.items():
        for file, facts in delivery["files"].items():
            if facts["rejected"]:
                assert f"{source}/{file} rejected" in text
                assert f"rejected          {source}/{file}: " in text  # in the summary too
    totals = Counter()
    reasons = Counter()
    for delivery in sources.values():
        total = delivery["totals"]
        totals.update(
            read=total["rows"],
            loaded=total["loaded"],
            superseded=total["superseded"],
            quarantined=sum(total["quarantined"].values()),
        )
        reasons.update(total["quarantined"])
    assert (
        f"  rows              {totals['read']:,} read: {totals['loaded']:,} loaded, "
        f"{totals['quarantined']:,} quarantined, {totals['superseded']:,} superseded"
    ) in lines
    top = sorted(((-n, code) for code, n in reasons.items() if n), key=lambda x: x)[:5]
    assert "  quarantine        " + ", ".join(f"{c} {-n:,}" for n, c in top) in lines
    for source in sources:
        assert any(line.startswith(f"{source} ") for line in lines), source
    assert f"published to {root / 'warehouse' / 'yiyu.duckdb'}" in text


@pytest.mark.slow
def test_the_full_event_stream_goes_to_the_log_file_named_in_the_summary(refreshed):
    root, _, text = refreshed
    (run_id,) = re.findall(r"^refresh succeeded in .* \(run (\S+)\)$", text, re.M)
    (named,) = re.findall(r"^  log +(\S+)$", text, re.M)
    path = Path(named)
    assert path.parent == root / "warehouse" / "logs"
    assert re.fullmatch(rf"refresh-\d{{8}}-\d{{6}}-{run_id[:8]}\.log", path.name)
    log = path.read_text(encoding="utf-8")
    assert "STEP_SUCCESS" in log and "RUN_SUCCESS" in log and "DEBUG" in log
    assert "Completed successfully" in log  # dbt's own lines
    assert "\x1b" not in log


@pytest.mark.slow
def test_verbose_brings_the_event_stream_back_to_the_console(refreshed):
    root, env, _ = refreshed
    done = subprocess.run(
        [YIYU, "refresh", "--force", "-v"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    console = done.stdout + done.stderr
    assert "STEP_SUCCESS" in console and "Completed successfully" in console
    assert "\x1b" not in console
    assert re.search(r"^refresh succeeded in .* \(run \S+\)$", console, re.M)
    assert len(list((root / "warehouse" / "logs").glob("refresh-*.log"))) == 2
