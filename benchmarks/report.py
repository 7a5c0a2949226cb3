"""The printed tables: per stage of a refresh, then the goals against the floor."""

from __future__ import annotations

from collections import defaultdict

from benchmarks.events import RunLog

MB = 1024 * 1024
GB = 1024 * MB
FLOOR_KEYS = {"before": "floor_before", "after": "floor"}  # when: key in the result JSON


def _stage_rows_count(stage: str, rows: dict[str, int]) -> int | None:
    """Rows a stage works through: raw rows read for parsing, else rows loaded/linked/published."""
    if stage.startswith("parse+validate "):
        return rows.get("read:" + stage.removeprefix("parse+validate "))
    return {
        "identity": rows.get("identity_records"),
        "quality checks": rows.get("loaded"),
        "dbt models": rows.get("loaded"),
        "publishing": rows.get("published"),
    }.get(stage)


def stage_rows(run: RunLog, measured, rows: dict[str, int]) -> list[dict]:
    """One row per stage (steps of the same stage summed), then overheads and the total."""
    by_stage = defaultdict(list)
    for step in run.steps:
        by_stage[step.stage].append(step)
    sampler = measured.sampler
    table = []
    for stage, steps in by_stage.items():
        seconds = sum(s.seconds for s in steps)
        count = _stage_rows_count(stage, rows)
        peak = max(sampler.peak(s.start, s.end) for s in steps)
        table.append(
            {
                "stage": stage,
                "seconds": seconds,
                "cpu_s": sum(sampler.cpu_between(s.start, s.end) for s in steps),
                "peak_rss_mb": peak / MB if peak else None,
                "rows": count,
                "rows_per_s": count / seconds if count and seconds > 0 else None,
            }
        )
    in_steps = sum(s.seconds for s in run.steps)
    run_cpu = sampler.cpu_between(run.start, run.end)
    table.append(
        {
            "stage": "dagster between steps",
            "seconds": run.seconds - in_steps,
            "cpu_s": run_cpu - sum(row["cpu_s"] for row in table),
        }
    )
    first, last = sampler.samples[0][0], sampler.samples[-1][0]
    table.append(
        {
            "stage": "process start, load definitions",
            "seconds": run.start - first,
            "cpu_s": sampler.cpu_between(first, run.start),
            "peak_rss_mb": sampler.peak(0, run.start) / MB,
        }
    )
    table.append(
        {
            "stage": "after the run, process exit",
            "seconds": last - run.end,
            "cpu_s": measured.cpu_s - sampler.cpu_between(first, run.end),
            "peak_rss_mb": sampler.peak(run.end) / MB,
        }
    )
    table.append(
        {
            "stage": "TOTAL (wall)",
            "seconds": measured.seconds,
            "cpu_s": measured.cpu_s,
            "peak_rss_mb": sampler.peak() / MB,
            "rows": rows.get("read_total"),
        }
    )
    return table


def _cell(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_stage_table(table: list[dict]) -> None:
    print(f"{'stage':<34}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}{'rows':>12}{'rows/s':>12}")
    for row in table:
        print(
            f"{row['stage']:<34}{_cell(row.get('seconds'), '.2f'):>9}"
            f"{_cell(row.get('cpu_s'), '.2f'):>9}"
            f"{_cell(row.get('peak_rss_mb'), ',.0f'):>13}{_cell(row.get('rows'), ','):>12}"
            f"{_cell(row.get('rows_per_s'), ',.0f'):>12}"
        )


def _goal(label: str, measured: str, ok: bool) -> None:
    print(f"  {'met ' if ok else 'MISS'}  {label:<44} {measured}")


def floors(result: dict) -> dict[str, dict]:
    """The floors measured, by when: before the refreshes (not in older results) and after."""
    return {when: result[key] for when, key in FLOOR_KEYS.items() if key in result}


def floor_figure(result: dict, figure: str) -> float:
    """The floor's `figure` (wall_s, cpu_s) the goals are judged against: the mean of the
    floors before and after the refreshes, as the shared machine's speed drifts between them."""
    measured = floors(result).values()
    return sum(floor[figure] for floor in measured) / len(measured)


def _ratio_goal(label: str, result: dict, figure: str) -> None:
    full = result["full"][figure]
    ratio = full / floor_figure(result, figure)
    each = [f"{when} {full / floor[figure]:.1f}x" for when, floor in floors(result).items()]
    spread = f" ({', '.join(each)})" if len(each) > 1 else ""
    _goal(label, f"{ratio:.1f}x{spread}", ratio <= 2)


def _without_link(result: dict) -> None:
    """The wall ratio against the floor without its link phase (rounds 1 to 8 had none), for
    comparison with those rounds."""
    measured = [f for f in floors(result).values() if "link" in f.get("phases", {})]
    if measured:
        floor = sum(f["wall_s"] - f["phases"]["link"] for f in measured) / len(measured)
        label = "full refresh / floor without its link phase"
        print(f"  info  {label:<44} {result['full']['wall_s'] / floor:.1f}x")


def previous_run(saved: dict) -> dict:
    """What the refresh-cost goal compares with: the full refresh and floor of a saved result."""
    return {
        "date": saved["date"],
        "generator": saved["generator"],
        "full_wall_s": saved["full"]["wall_s"],
        "full_cpu_s": saved["full"]["cpu_s"],
        "floor_wall_s": floor_figure(saved, "wall_s"),
        "floor_cpu_s": floor_figure(saved, "cpu_s"),
        # Floors saved before round 9 did not link: a ratio against them is another yardstick.
        "floor_links": all("link" in f.get("phases", {}) for f in floors(saved).values()),
    }


def against_previous(result: dict) -> tuple[float, float] | None:
    """The full refresh's wall and CPU seconds over the floor's, each over the same ratio of
    the saved run this one replaced (None without one): the floor absorbs the shared machine's
    drift between the two runs."""
    saved = result.get("previous_run")
    if saved is None:
        return None
    wall, cpu = (
        result["full"][f] / floor_figure(result, f) / (saved[f"full_{f}"] / saved[f"floor_{f}"])
        for f in ("wall_s", "cpu_s")
    )
    return wall, cpu


def _print_against_previous(result: dict) -> None:
    ratios = against_previous(result)
    if ratios is None:
        return
    saved = result["previous_run"]
    label = "full refresh / floor <= 1.1x the saved run's"
    detail = (
        f"{ratios[0]:.2f}x (CPU {ratios[1]:.2f}x; saved {saved['date'][:10]}, "
        f"generator {saved['generator']})"
    )
    if saved["floor_links"]:
        _goal(label, detail, ratios[0] <= 1.1)
    else:
        print(f"  info  {label:<44} {detail}: its floor did not link, not comparable")


def print_goals(result: dict) -> None:
    full, noop = result["full"], result["noop"]
    print()
    for when, floor in floors(result).items():
        # Results saved before round 9 have no phases (and a floor without the linkage).
        phases = ", ".join(f"{k} {v:.1f}" for k, v in floor.get("phases", {}).items())
        print(
            f"== engine floor {when}: {floor['wall_s']:.2f} s wall ({floor['seconds']:.2f} s in "
            f"the computation{': ' + phases if phases else ''}), {floor['cpu_s']:.1f} s CPU, "
            f"peak {floor['peak_rss'] / MB:,.0f} MB"
        )
    mean = "; floor: the mean of before and after" if len(floors(result)) > 1 else ""
    print(f"== goals ({result['children']:,} children{mean})")
    _ratio_goal("full refresh <= 2x floor, wall (province goal)", result, "wall_s")
    _ratio_goal("full refresh <= 2x floor, CPU", result, "cpu_s")
    _without_link(result)
    _goal("peak memory < 8 GB", f"{full['peak_rss'] / GB:.2f} GB", full["peak_rss"] < 8 * GB)
    _goal("full refresh < 30 s (district goal)", f"{full['wall_s']:.1f} s", full["wall_s"] < 30)
    _goal("no-op refresh < 10 s", f"{noop['wall_s']:.1f} s", noop["wall_s"] < 10)
    _print_against_previous(result)
    lists = result.get("worklists")
    if lists:
        rows = f"{lists['files']:,} files, {lists['rows']:,} rows"
        _goal(
            "worklists < 60 s (province goal)",
            f"{lists['wall_s']:.1f} s ({rows})",
            lists["wall_s"] < 60,
        )
    same = full["indicator_values"] == noop["indicator_values"]
    _goal("no-op refresh gives the same indicator values", str(noop["indicator_values"]), same)
    forced = result.get("noop_forced")
    if forced:
        same = full["indicator_values"] == forced["indicator_values"]
        _goal(
            "--force refresh gives the same indicator values", str(forced["indicator_values"]), same
        )
        print(
            f"  info  {'no-op with --force (whole job, cached files)':<44} {forced['wall_s']:.1f} s"
        )
    print("\n== floor vs marts, district, latest period (sanity view, not the same method)")
    for label, floor_value, mart_value in result["floor_vs_marts"]:
        print(f"  {label:<36}{_cell(floor_value, ','):>12}{_cell(mart_value, ','):>12}")
