"""`yiyu sample`: the whole synthetic raw delivery, written chunk by chunk.

Children are generated in chunks (bounded memory); each chunk appends its rows to the
delivery files of the child-level sources. Registers are small and written once.
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.ingest.sources import SOURCES
from pipelines.sample import children, enrollment, health, ids, registers
from pipelines.sample.calendar import day
from pipelines.sample.defects import apply_anomalies, bad_clones
from pipelines.sample.deliveries import (
    archives_rows,
    births_rows,
    checks_rows,
    enrollments_rows,
)
from pipelines.sample.manifest import Manifest
from pipelines.sample.plan import (
    Delivery,
    archives_plan,
    assert_ordered,
    births_plan,
    checks_plan,
    deliveries,
    enrollments_plan,
)
from pipelines.sample.render import exported_columns, render_text, render_typed
from pipelines.sample.writers import open_writer

CHUNK = 200_000
# Above this many children the planned XLSX deliveries are written as CSV (Excel-sized).
XLSX_MAX_CHILDREN = 30_000
META = {
    "_anomaly": pl.Utf8,
    "_bad": pl.Utf8,
    "_bad_col": pl.Utf8,
    "_bad_value": pl.Utf8,
    "_mother_id": pl.Utf8,
    "_superseded": pl.Boolean,
    "_redelivered": pl.Boolean,
}
# Warnings about a row's community: none where the file lacks the column.
COMMUNITY_WARNINGS = ("outside_district", "unknown_community")


def write_sample(children: int, seed: int, out: Path, chunk_size: int = CHUNK) -> None:
    """Writes DIR/<source>/... for every source and DIR/MANIFEST.json.

    Children are made `chunk_size` at a time (the files depend on it: keep the default
    for reproducible deliveries)."""
    if children < 1:
        raise ValueError("children must be at least 1")
    out = Path(out)
    _clear(out)
    run = Run(out, children, seed, chunk_size)
    run.registers()
    run.child_sources()
    run.catchments()
    run.finish()


def _clear(out: Path) -> None:
    """Removes an earlier sample's sources (other files in DIR, e.g. a README, stay).

    Refuses when source folders hold files but DIR has no sample manifest: that is a real
    landing folder, not ours to delete."""
    out.mkdir(parents=True, exist_ok=True)
    ours = (out / "MANIFEST.json").exists()
    if not ours and any(p.is_file() for s in SOURCES for p in (out / s).rglob("*")):
        raise FileExistsError(f"{out} holds source files not written by yiyu sample")
    for source in SOURCES:
        shutil.rmtree(out / source, ignore_errors=True)
    (out / "MANIFEST.json").unlink(missing_ok=True)


def progress(message: str) -> None:
    print(f"[yiyu sample] {message}", file=sys.stderr, flush=True)


class Run:
    def __init__(self, out: Path, n: int, seed: int, chunk_size: int):
        self.out, self.n, self.seed, self.chunk_size = out, n, seed, chunk_size
        self.manifest = Manifest(n, seed)
        self.writers: dict[tuple[str, str], object] = {}
        self.counters = {"archive": 0, "check": 0, "enrollment": 0}
        self.fresh: dict[str, int] = dict.fromkeys(SOURCES, 0)
        self.showcased: set[str] = set()
        self.small = n <= XLSX_MAX_CHILDREN
        self.started = time.monotonic()

    # -- writing -----------------------------------------------------------------------

    def ext(self, preferred: str) -> str:
        return "csv" if preferred == "xlsx" and not self.small else preferred

    def emit(self, source: str, delivery: Delivery, frame: pl.DataFrame, rng) -> None:
        """Adds anomalies and bad clones (first chunk: at least one of each in the source's
        first CSV file), renders, appends to the file and counts for the manifest."""
        frame = frame.with_columns(
            pl.lit(None if dtype == pl.Utf8 else False, dtype).alias(name)
            for name, dtype in META.items()
            if name not in frame.columns
        )
        key = (source, delivery.path)
        if key not in self.writers:
            self.writers[key] = open_writer(self.out / source, delivery)
        if not delivery.drop_required:
            ensure = delivery.fmt == "csv" and source not in self.showcased and frame.height > 0
            if ensure:
                self.showcased.add(source)
            present = {c.name for c in exported_columns(source, delivery, frame)}
            if "community_code" not in present:
                frame = frame.with_columns(
                    pl.when(pl.col("_anomaly").is_in(COMMUNITY_WARNINGS))
                    .then(None)
                    .otherwise(pl.col("_anomaly"))
                    .alias("_anomaly")
                )
            frame = apply_anomalies(source, frame, delivery.fmt, present, rng, ensure)
            bad = bad_clones(
                source,
                frame,
                delivery.fmt,
                present,
                rng,
                lambda k: self.fresh_keys(source, k),
                ensure,
            )
            frame = _interleave(frame, bad, rng)
        if delivery.fmt == "csv":
            rendered = render_text(source, delivery, frame, rng)
        else:
            rendered = render_typed(source, delivery, frame)
        self.writers[key].append(rendered)
        self.manifest.count(source, delivery, frame)

    def fresh_keys(self, source: str, k: int) -> pl.Series:
        """Natural keys no genuine row uses (bad clones never collide with anything)."""
        start = self.fresh[source]
        self.fresh[source] += k
        seq = np.arange(start, start + k)
        if source == "staff":
            born = day(date(1990, 1, 1)) + seq // 500
            return ids.resident_ids(np.full(k, 110101), born, 2 * (seq % 500))
        if source == "institutions":
            return pl.Series([registers.uscc(f"91330206XX{i:07d}") for i in seq])
        prefix, width = {
            "births": ("Z", 9),
            "health_archives": ("DA999", 9),
            "health_checks": ("TJ9", 9),
            "enrollments": ("RT9", 8),
            "parenting_surveys": ("DC9999Q9", 6),
            "health_facilities": ("330206H9", 2),
        }[source]
        return ids.numbered(prefix, seq, width)

    def finish(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.manifest.write(self.out)
        progress(f"done in {time.monotonic() - self.started:.0f}s -> {self.out}")

    # -- registers -----------------------------------------------------------------------

    def registers(self) -> None:
        rng = np.random.default_rng([self.seed, 1])
        self._divisions(rng)
        self._facilities(rng)
        self.institutions = registers.institutions(rng, self.n)
        self._institutions(rng)
        self._staff(rng)
        self._surveys(rng)
        progress(f"registers written ({self.institutions.height} institutions)")

    def _snapshots(
        self, source: str, paths: list[str], frames: list[pl.DataFrame], rng, offset: int, omit=None
    ) -> None:
        """Full snapshots in lexical = chronological order: all but the last superseded."""
        assert_ordered(paths)
        for i, (delivery, frame) in enumerate(
            zip(deliveries(paths, offset, omit), frames, strict=True)
        ):
            latest = i == len(frames) - 1
            self.emit(
                source,
                delivery,
                frame.with_columns(
                    pl.lit(not latest).alias("_superseded"), pl.lit(i > 0).alias("_redelivered")
                ),
                rng,
            )

    def _divisions(self, rng) -> None:
        now = registers.divisions()
        renamed = now.with_columns(
            pl.when(pl.int_range(pl.len()) == 4)
            .then(pl.col("community_name").str.replace(r"(社区|村)$", "新$1"))
            .otherwise(pl.col("community_name"))
            .alias("community_name")
        )
        paths = ["2022/北仑区行政区划_2022.xlsx", "2023/行政区划_2023.csv"]
        self._snapshots("divisions", paths, [now, renamed], rng, offset=1)

    def _facilities(self, rng) -> None:
        latest = registers.health_facilities()
        before = latest.with_columns(pl.lit(None, pl.Date).alias("three_in_one_since"))
        paths = [
            "2023-01/health_facilities_2023-01.csv",
            f"2023-12/医疗卫生机构_2023-12.{self.ext('xlsx')}",
        ]
        self._snapshots("health_facilities", paths, [before, latest], rng, offset=2)

    def _institutions(self, rng) -> None:
        paths = [
            f"2022-12/托育机构名录_2022-12-31.{self.ext('xlsx')}",
            "2023-06/托育机构名录_2023-06-30.csv",
            "2023-12/institutions_2023-12-31.parquet",
        ]
        frames = [registers.institution_snapshot(self.institutions, d) for d in registers.SNAPSHOTS]
        self._snapshots(
            "institutions", paths, frames, rng, offset=0, omit={0: ("demonstration_level",)}
        )

    def _staff(self, rng) -> None:
        people = registers.staff(rng, self.institutions)
        self.manifest.population["staff_legacy_15_digit_ids"] = int(people["legacy"].sum())
        paths = [
            "2022-12/从业人员_2022-12.csv",
            f"2023-06/staff_2023-06.{self.ext('xlsx')}",
            "2023-12/从业人员花名册_2023-12.csv",
        ]
        frames = [
            registers.staff_snapshot(people, d, registers.SNAPSHOTS[0]) for d in registers.SNAPSHOTS
        ]
        self._snapshots("staff", paths, frames, rng, offset=1, omit={2: ("certified_on",)})

    def _surveys(self, rng) -> None:
        found = registers.surveys(rng, self.n)
        names = {
            "2022Q4": f"2022Q4/surveys_2022Q4.{self.ext('xlsx')}",
            "2023Q1": "2023Q1/科学育儿知识知晓调查_2023Q1.csv",
            "2023Q3": "2023Q3/surveys_2023Q3.parquet",
            "2023Q4": "2023Q4/parenting_2023Q4.csv",
        }
        for delivery in deliveries(list(names.values()), offset=2):
            quarter = delivery.path[:6]
            self.emit(
                "parenting_surveys", delivery, found.filter(pl.col("quarter") == quarter), rng
            )

    def catchments(self) -> None:
        """From a random stream of its own: the other sources' files stay as they were."""
        rng = np.random.default_rng([self.seed, 2])
        served = registers.catchments()
        paths = [f"2023-01/catchments_2023-01.{self.ext('xlsx')}", "2023-12/服务辖区_2023-12.csv"]
        self._snapshots("catchments", paths, [served, served], rng, offset=1)

    # -- child-level sources -------------------------------------------------------------

    def child_sources(self) -> None:
        xlsx = self.ext("xlsx")
        plans = {
            "births": births_plan(self.seed, xlsx),
            "health_archives": archives_plan(self.seed, xlsx),
            "health_checks": checks_plan(self.seed, xlsx),
            "enrollments": enrollments_plan(self.seed, xlsx),
        }
        pop = children.Population.start(self.seed)
        chunks = range(0, self.n, self.chunk_size)
        for c, start in enumerate(chunks):
            rng = np.random.default_rng([self.seed, 100 + c])
            size = min(self.chunk_size, self.n - start)
            kids = children.generate(rng, pop, start, size)
            archives, per_child = health.archives(rng, kids, self.counters)
            enrolled = enrollment.enrollments(rng, kids, self.institutions, self.counters)
            checks = health.checks(
                rng, kids, per_child, enrolled.select("child", "enroll_day"), self.counters
            )
            self._count_population(kids)
            self._emit_each("births", plans["births"], births_rows(kids, rng), "_q", rng)
            self._emit_each(
                "health_archives",
                plans["health_archives"],
                archives_rows(archives),
                "_delivery",
                rng,
            )
            checked = checks_rows(checks, plans["health_checks"], rng, first_chunk=c == 0)
            self._emit_each("health_checks", plans["health_checks"], checked, "_to", rng)
            self._emit_each(
                "enrollments", plans["enrollments"], enrollments_rows(enrolled), "_delivery", rng
            )
            progress(
                f"chunk {c + 1}/{len(chunks)}: {start + size}/{self.n} children, "
                f"{self.counters['check']} checks, {time.monotonic() - self.started:.0f}s"
            )

    def _emit_each(
        self, source: str, plan: list[Delivery], rows: pl.DataFrame, index: str, rng
    ) -> None:
        """Each file of the plan gets the rows whose `index` column is its place in the plan."""
        for i, delivery in enumerate(plan):
            self.emit(source, delivery, rows.filter(pl.col(index) == i), rng)

    def _count_population(self, kids: pl.DataFrame) -> None:
        pop = self.manifest.population
        pop["children"] += kids.height
        pop["twin_pairs"] += int(kids["twin"].sum()) // 2
        pop["namesake_pairs"] += int(kids["namesake"].sum()) // 2
        pop["living_outside_district"] += int(kids["outside"].sum())


def _interleave(frame: pl.DataFrame, bad: pl.DataFrame, rng) -> pl.DataFrame:
    """Bad rows sit at random places among the genuine ones, as in real exports."""
    if bad.height == 0:
        return frame
    place = pl.concat(
        [
            frame.with_columns(pl.Series("_pos", np.arange(frame.height, dtype=float))),
            bad.with_columns(pl.Series("_pos", rng.uniform(0, max(frame.height, 1), bad.height))),
        ]
    )
    return place.sort("_pos", maintain_order=True).drop("_pos")
