"""`python -m benchmarks.compare`: per-row cost of each saved run, to judge linear growth.

Cost is microseconds per raw row read, per stage of the full refresh, for every result in
benchmarks/results/ (smallest first); linear growth keeps a stage's cost flat across sizes.
"""

from __future__ import annotations

import json

from benchmarks.run import RESULTS_DIR


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
    heads = "".join(f"{r['children']:>14,}" for r in results)
    print(f"{'us per raw row read (full refresh)':<36}{heads}")
    for stage in [*stages, "engine floor"]:
        cells = ""
        for r in results:
            rows = next(s["rows"] for s in r["full"]["stages"] if s["stage"] == "TOTAL (wall)")
            seconds = (
                r["floor"]["wall_s"]
                if stage == "engine floor"
                else next((s["seconds"] for s in r["full"]["stages"] if s["stage"] == stage), None)
            )
            cells += "-".rjust(14) if seconds is None else f"{seconds / rows * 1e6:>14.2f}"
        print(f"{stage:<36}{cells}")


if __name__ == "__main__":
    main()
