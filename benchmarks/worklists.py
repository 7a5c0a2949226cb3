"""The worklist export of a benchmark run: `yiyu worklists --out <run>/worklists` after the full
refresh, measured like the refresh (wall, CPU and peak RSS of its process tree), with the files
it wrote and their rows.

The rows come from the export log (`meta.worklist_exports` in the working state), never from
the files: they hold clear handles, which the benchmark has no reason to read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from benchmarks.memory import measure
from pipelines.ingest.handles import generate_key_pair

MB = 1024 * 1024
EXPORTED = (
    "SELECT count(DISTINCT recipient_code), coalesce(sum(rows), 0) FROM meta.worklist_exports"
)


def key_pair(run_dir: Path) -> dict[str, str]:
    """A fresh worklist key pair in the run folder, as the settings that name it: the refresh
    encrypts to its public half, the export decrypts with its private half."""
    folder = run_dir / "keys"
    folder.mkdir(parents=True)
    public, private = folder / "worklist_public.pem", folder / "worklist_private.pem"
    generate_key_pair(public, private)
    return {"YIYU_WORKLIST_PUBLIC_KEY": str(public), "YIYU_WORKLIST_PRIVATE_KEY": str(private)}


def measure_worklists(yiyu: Path, env: dict[str, str], run_dir: Path) -> dict:
    """`yiyu worklists` into `run_dir`/worklists, measured; what it wrote."""
    out = run_dir / "worklists"
    log = run_dir / "worklists.log"
    measured = measure([str(yiyu), "worklists", "--out", str(out)], env, log)
    if measured.code != 0:
        sys.exit(f"yiyu worklists failed (exit {measured.code}); see {log}")
    files = sorted(out.glob("*.xlsx"))
    work = Path(env["YIYU_WAREHOUSE_PATH"]).parent / "work.duckdb"
    with duckdb.connect(str(work), read_only=True) as con:
        recipients, rows = con.execute(EXPORTED).fetchone()
    result = {
        "wall_s": measured.seconds,
        "cpu_s": measured.cpu_s,
        "load_before": measured.load_before,
        "peak_rss": measured.sampler.peak(),
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
        "recipients_logged": int(recipients),
        "rows": int(rows),
    }
    print(
        f"\n== worklists: {result['files']:,} files ({result['bytes'] / MB:,.1f} MB), "
        f"{result['rows']:,} rows for {result['recipients_logged']:,} recipients, "
        f"{measured.seconds:.1f} s wall, {measured.cpu_s:.1f} s CPU (tree), "
        f"peak {result['peak_rss'] / MB:,.0f} MB, load average {measured.load_before:.1f} at start"
    )
    return result
