"""`python -m benchmarks.compare`: per-row CPU cost of each saved run, to judge linear growth.

For every result in benchmarks/results/ (smallest first) and every stage of the full
refresh: CPU microseconds per raw row read, and the marginal cost between consecutive sizes
(extra CPU / extra rows). Linear growth keeps the marginal cost flat; a fixed cost shows as a
per-row cost that falls with size.
"""

from __future__ import annotations

import json

from benchmarks.report import floor_figure
from benchmarks.run import RESULTS_DIR

FLOOR = "engine floor"


def _cpu(result: dict, stage: str) -> float | None:
    if stage == FLOOR:
        return floor_figure(result, "cpu_s")
    return next((s.get("cpu_s") for s in result["full"]["stages"] if s["stage"] == stage), None)


def _rows(result: dict) -> int:
    return next(s["rows"] for s in result["full"]["stages"] if s["stage"] == "TOTAL (wall)")


def main() -> None:
    results = sorted(
        (json.loads(p.read_text()) for p in RESULTS_DIR.glob("*.json")),
        key=lambda r: r["children"],
    )
    if not results:
        raise SystemExit("no saved results: run `python -m benchmarks.run` first")
    stages: list[str] = []
    for r in results:
        stages += [s["stage"] for s in r["full"]["stages"] if s["stage"] not in stages]
    sizes = "".join(f"{r['children']:>12,}" for r in results)
    steps = "".join(f"{'->' + format(r['children'], ','):>14}" for r in results[1:])
    print(f"{'CPU us per raw row (full refresh)':<34}{sizes}   marginal{steps}")
    for stage in [*stages, FLOOR]:
        per_row, marginal = "", ""
        for i, r in enumerate(results):
            cpu = _cpu(r, stage)
            per_row += f"{'-':>12}" if cpu is None else f"{cpu / _rows(r) * 1e6:>12.2f}"
            before = _cpu(results[i - 1], stage) if i else None
            if i and cpu is not None and before is not None:
                extra_rows = _rows(r) - _rows(results[i - 1])
                marginal += f"{(cpu - before) / extra_rows * 1e6:>14.2f}"
            elif i:
                marginal += f"{'-':>14}"
        label = "TOTAL" if stage == "TOTAL (wall)" else stage
        print(f"{label:<34}{per_row}           {marginal}")


if __name__ == "__main__":
    main()
