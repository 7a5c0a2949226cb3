"""`python -m benchmarks.run --scale district|province | --children N [--seed S]`.

Generates (or reuses) a synthetic delivery, measures the engine floor on it, runs a full
`yiyu refresh` into a fresh warehouse, exports the worklists from it, then a second refresh with
nothing new, then the floor again, and prints per stage: wall seconds, peak RSS of the process
tree, rows, rows/s; totals and the goals. The two floors bracket the refreshes: the machine is
shared and its speed drifts by a quarter within minutes, so the goals are judged against their
mean; and the first floor reads the raw files into the page cache, so the refresh does not pay
a cold read the floor after it would not. The result is also saved as JSON under
benchmarks/results/ (see benchmarks/compare.py); the refresh is also compared with the result
it replaces.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.events import RunLog, latest_run
from benchmarks.floor import RESULT_MARK
from benchmarks.marts import floor_vs_marts, indicator_checksum, warehouse_rows
from benchmarks.memory import Measured, measure
from benchmarks.report import previous_run, print_goals, print_stage_table, stage_rows
from benchmarks.worklists import key_pair, measure_worklists

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
RESULTS_DIR = BENCH_DIR / "results"
SCALES = {"district": 30_000, "tenth": 300_000, "province": 3_000_000}
BIN = Path(sys.executable).parent


def generator_version() -> str:
    """Changes with the generator's code, so a cached delivery is never from an older one."""
    digest = hashlib.sha256()
    for path in sorted((BENCH_DIR.parent / "pipelines" / "sample").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def dataset(children: int, seed: int) -> Path:
    """The raw delivery for (children, seed), generated once with the project's generator."""
    raw = DATA_DIR / f"{children}-{seed}-{generator_version()}" / "raw"
    if (raw / ".complete").exists():
        return raw
    partial = raw.with_name("raw.partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    cmd = [str(BIN / "yiyu"), "sample", "--children", str(children), "--seed", str(seed)]
    subprocess.run([*cmd, "--out", str(partial)], check=True)
    print(f"generated {children} children in {time.perf_counter() - started:.1f} s")
    shutil.rmtree(raw, ignore_errors=True)
    partial.rename(raw)
    (raw / ".complete").touch()
    return raw


SKIPPED_MARK = "nothing new since refresh"


def floor_result(log: Path) -> dict:
    line = next(x for x in log.read_text().splitlines() if x.startswith(RESULT_MARK))
    return json.loads(line.removeprefix(RESULT_MARK))


def refresh(env: dict[str, str], log: Path, *args: str) -> tuple[Measured, RunLog | None]:
    measured = measure([str(BIN / "yiyu"), "refresh", *args], env, log)
    if measured.code == 0 and SKIPPED_MARK in log.read_text():
        return measured, None  # nothing new: skipped before Dagster was loaded
    run = latest_run(Path(env["DAGSTER_HOME"]))
    if run.status != "SUCCESS":
        # What did run is still worth seeing: where the time went before the failure.
        print_stage_table(stage_rows(run, measured, {}))
        sys.exit(f"refresh failed (exit {measured.code}, run {run.status}); see {log}")
    if measured.code != 0:
        print(f"WARNING: the Dagster run succeeded but `yiyu refresh` exited {measured.code}")
    return measured, run


def bench(children: int, seed: int, forced: bool = True, previous: dict | None = None) -> dict:
    """The run (see the module's docstring); `previous`: the saved result of the same size
    it replaces, for the refresh-cost goal."""
    raw = dataset(children, seed)
    run_dir = raw.parent / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    warehouse = run_dir / "warehouse" / "yiyu.duckdb"
    env = {
        **os.environ,
        "YIYU_RAW_DIR": str(raw),
        "YIYU_WAREHOUSE_PATH": str(warehouse),
        # A fresh key per benchmark: nothing is comparable with any real warehouse.
        "YIYU_LINK_SECRET": secrets.token_hex(32),
        "DAGSTER_HOME": str(run_dir / "warehouse" / "dagster"),
        **key_pair(run_dir),
    }
    Path(env["DAGSTER_HOME"]).mkdir(parents=True)
    result: dict = {
        "children": children,
        "seed": seed,
        "generator": generator_version(),
        "raw_bytes": sum(p.stat().st_size for p in raw.rglob("*") if p.is_file()),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if previous is not None:
        result["previous_run"] = previous_run(previous)
    # Also before the refresh: it warms the page cache for it, and with the floor after the
    # refreshes it brackets the drift of the shared machine's speed.
    result["floor_before"] = measure_floor(raw, env, run_dir / "floor-before.log")
    # noop: the same command again (skipped: nothing changed); noop_forced: `--force`, the
    # whole job over cached files.
    runs = [("full", ()), ("noop", ()), ("noop_forced", ("--force",))]
    for name, args in runs if forced else runs[:2]:
        measured, run = refresh(env, run_dir / f"refresh-{name}.log", *args)
        rows = warehouse_rows(warehouse)
        print(
            f"\n== {name} refresh: {children:,} children, "
            f"run {run.run_id if run else '(skipped, nothing new)'}, "
            f"{measured.seconds:.1f} s wall, {measured.cpu_s:.1f} s CPU (tree), "
            f"load average {measured.load_before:.1f} at start"
        )
        if run is None:
            result[name] = {
                "wall_s": measured.seconds,
                "cpu_s": measured.cpu_s,
                "skipped": True,
                "indicator_values": indicator_checksum(warehouse),
            }
            continue
        table = stage_rows(run, measured, rows)
        print_stage_table(table)
        result[name] = {
            "wall_s": measured.seconds,
            "cpu_s": measured.cpu_s,
            "load_before": measured.load_before,
            "run_s": run.seconds,
            "peak_rss": measured.sampler.peak(),
            "stages": table,
            "dbt_models_s": {m: s for step in run.steps for m, s in step.model_seconds.items()},
            "indicator_values": indicator_checksum(warehouse),
        }
        if name == "full":
            result["worklists"] = measure_worklists(BIN / "yiyu", env, run_dir)
    measure_floor_after(result, raw, env)
    return result


def measure_floor(raw: Path, env: dict[str, str], log: Path) -> dict:
    """The floor on the raw files, a measured subprocess logging to `log`."""
    floor = measure([sys.executable, "-m", "benchmarks.floor", str(raw)], env, log)
    if floor.code != 0:
        sys.exit(f"floor failed; see {floor.log}")
    return {
        "wall_s": floor.seconds,
        "cpu_s": floor.cpu_s,
        "load_before": floor.load_before,
        "peak_rss": floor.sampler.peak(),
        **floor_result(floor.log),
    }


def measure_floor_after(result: dict, raw: Path, env: dict[str, str]) -> None:
    """The floor after the refreshes of `result`, beside their marts; then the goals."""
    run_dir = raw.parent / "run"
    result["floor"] = measure_floor(raw, env, run_dir / "floor.log")
    warehouse = run_dir / "warehouse" / "yiyu.duckdb"
    result["floor_vs_marts"] = floor_vs_marts(warehouse, result["floor"]["district"])
    print_goals(result)


def floor_again(children: int, seed: int) -> dict:
    """Re-measure only the floor after a saved run (same cached files, same warehouse); the
    floor before it stays as saved."""
    result = json.loads(result_path(children, seed).read_text())
    raw = DATA_DIR / f"{children}-{seed}-{result['generator']}" / "raw"
    if not (raw / ".complete").exists():
        sys.exit(f"the files of that run are gone: {raw}")
    env = {**os.environ, "YIYU_LINK_SECRET": secrets.token_hex(32)}
    measure_floor_after(result, raw, env)
    return result


def result_path(children: int, seed: int) -> Path:
    return RESULTS_DIR / f"{children}-{seed}.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="district")
    parser.add_argument("--children", type=int, help="any size (overrides --scale)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--floor-only", action="store_true", help="re-measure only the floor of a saved run"
    )
    parser.add_argument(
        "--no-forced",
        action="store_true",
        help="leave out the third refresh (--force: the whole job again over cached files)",
    )
    args = parser.parse_args()
    children = args.children or SCALES[args.scale]
    out = result_path(children, args.seed)
    if args.floor_only:
        result = floor_again(children, args.seed)
    else:
        previous = json.loads(out.read_text()) if out.exists() else None  # read before overwrite
        result = bench(children, args.seed, forced=not args.no_forced, previous=previous)
    RESULTS_DIR.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))
    print(f"\nsaved {out.relative_to(BENCH_DIR.parent)}")


if __name__ == "__main__":
    main()
