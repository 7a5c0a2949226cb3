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
from pipelines.sample.calendar import day, month_ends, quarter_label, text_where
from pipelines.sample.defects import apply_anomalies, bad_clones
from pipelines.sample.deliveries import by_events, redeliver_later
from pipelines.sample.manifest import Manifest
from pipelines.sample.plan import Delivery, deliveries
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
QUARTERS = [f"{y}Q{q}" for y in range(2019, 2024) for q in range(1, 5)][3:]
ARCHIVE_MONTHS = month_ends(date(2023, 1, 1), date(2023, 12, 31))
PILOT_MONTHS = month_ends(date(2022, 10, 1), date(2023, 12, 31))
HISTORY_YEARS = (2019, 2020, 2021, 2022)
REJECTED_MONTH = "2023-03"
# Warnings about a row's community: none where the file lacks the column.
COMMUNITY_WARNINGS = ("outside_district", "unknown_community")


def write_sample(children: int, seed: int, out: Path, chunk_size: int = CHUNK) -> None:
    """Writes DIR/<source>/... for all nine sources and DIR/MANIFEST.json.

    Children are made `chunk_size` at a time (the files depend on it: keep the default
    for reproducible deliveries)."""
    if children < 1:
        raise ValueError("children must be at least 1")
    out = Path(out)
    _clear(out)
    run = Run(out, children, seed, chunk_size)
    run.registers()
    run.child_sources()
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
        _assert_ordered(paths)
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

    # -- child-level sources -------------------------------------------------------------

    def child_sources(self) -> None:
        plans = {
            "births": self._births_plan(),
            "health_archives": self._archives_plan(),
            "health_checks": self._checks_plan(),
            "enrollments": self._enrollments_plan(),
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
            self._births(plans["births"], kids, rng)
            self._archives(plans["health_archives"], archives, rng)
            self._checks(plans["health_checks"], checks, rng, first_chunk=c == 0)
            self._enrollments(plans["enrollments"], enrolled, rng)
            progress(
                f"chunk {c + 1}/{len(chunks)}: {start + size}/{self.n} children, "
                f"{self.counters['check']} checks, {time.monotonic() - self.started:.0f}s"
            )

    def _count_population(self, kids: pl.DataFrame) -> None:
        pop = self.manifest.population
        pop["children"] += kids.height
        pop["twin_pairs"] += int(kids["twin"].sum()) // 2
        pop["namesake_pairs"] += int(kids["namesake"].sum()) // 2
        pop["living_outside_district"] += int(kids["outside"].sum())

    def _births_plan(self) -> list[Delivery]:
        def ext(i):
            return "parquet" if i == 7 else self.ext("xlsx") if i % 6 == 2 else "csv"

        paths = [f"{q[:4]}/births_{q}.{ext(i)}" for i, q in enumerate(QUARTERS)]
        _assert_ordered(paths)
        return deliveries(paths, offset=self.seed % 5, omit={5: ("community_code",)})

    def _births(self, plan: list[Delivery], kids: pl.DataFrame, rng) -> None:
        k = kids.filter(pl.col("has_birth"))
        n = k.height
        quarter = quarter_label(k["birth_day"].to_numpy())
        frame = k.select(
            "birth_cert_no",
            "child_name",
            "sex",
            "birth_date",
            pl.col("id_number").alias("_child_id"),
            pl.col("mother_id").alias("_mother_id"),
            pl.col("mother_name").alias("_x_母亲姓名"),
            pl.col("phone").alias("_x_联系电话"),
        ).with_columns(
            k["id_number"].set(pl.Series(rng.random(n) >= 0.4), None).alias("id_number"),
            k["community_code"].set(pl.Series(rng.random(n) >= 0.9), None).alias("community_code"),
            pl.Series("_q", np.searchsorted(np.array(QUARTERS), quarter)),
            pl.lit(False).alias("_superseded"),
            pl.lit(False).alias("_redelivered"),
        )
        outside = k["outside"] & frame["community_code"].is_not_null()
        frame = frame.with_columns(
            text_where(outside.to_numpy(), "outside_district").alias("_anomaly")
        )
        # A registration first sent without the ID number is sent again once it has one.
        eligible = (
            frame["id_number"].is_null()
            & frame["_anomaly"].is_null()
            & (frame["_q"] < len(QUARTERS) - 1)
        )
        frame, copies = redeliver_later(frame, rng, 0.03, eligible, _with_child_id)
        copies = copies.with_columns(pl.col("_q") + 1)
        both = pl.concat([frame, copies])
        for i, delivery in enumerate(plan):
            self.emit("births", delivery, both.filter(pl.col("_q") == i), rng)

    def _archives_plan(self) -> list[Delivery]:
        def ext(i, ym):
            return "parquet" if ym == "2023-07" else self.ext("xlsx") if i % 5 == 3 else "csv"

        paths = ["2022-12-31_全量/health_archives_full.csv"] + [
            f"{ym}/archives_{ym}.{ext(i, ym)}" for i, (ym, _end) in enumerate(ARCHIVE_MONTHS)
        ]
        _assert_ordered(paths)
        return deliveries(paths, offset=self.seed % 7, omit={2: ("family_doctor_signed_on",)})

    def _archives(self, plan: list[Delivery], archives: pl.DataFrame, rng) -> None:
        ends = [day(date(2022, 12, 31))] + [end for _ym, end in ARCHIVE_MONTHS]
        rows = by_events(
            archives,
            ("archive_date", "family_doctor_signed_on", "closed_on"),
            {
                "family_doctor_signed_on": "family_doctor_signed_on",
                "closed_on": "closed_on",
                "close_reason": "closed_on",
            },
            ends,
        )
        for i, delivery in enumerate(plan):
            self.emit("health_archives", delivery, rows.filter(pl.col("_delivery") == i), rng)

    def _checks_plan(self) -> list[Delivery]:
        def ext(i):
            return self.ext("xlsx") if i % 4 == 1 else "csv"

        history = [f"2022-09_history/checks_{y}.parquet" for y in HISTORY_YEARS]
        monthly = [f"{ym}/checks_{ym}.{ext(i)}" for i, (ym, _end) in enumerate(PILOT_MONTHS)]
        _assert_ordered(history + monthly)
        late = [
            f"{REJECTED_MONTH}/checks_{REJECTED_MONTH}_补报.csv",
            f"{REJECTED_MONTH}/checks_{REJECTED_MONTH}_补报_重发.csv",
        ]
        plan = deliveries(
            history + monthly + late,
            offset=self.seed % 3,
            omit={6: ("hemoglobin_g_l",), 9: ("child_name",), 13: ("birth_cert_no",)},
        )
        plan[-2] = Delivery(plan[-2].path, plan[-2].style, drop_required="check_date")
        return plan

    def _checks(self, plan: list[Delivery], checks: pl.DataFrame, rng, first_chunk: bool):
        days = checks["check_date"].cast(pl.Int32).to_numpy()
        years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
        ends = np.array([end for _ym, end in PILOT_MONTHS])
        target = np.where(
            days < day(date(2022, 10, 1)),
            np.searchsorted(HISTORY_YEARS, years),
            len(HISTORY_YEARS) + np.searchsorted(ends, days),
        )
        frame = checks.with_columns(
            pl.Series("_to", target),
            pl.lit(False).alias("_superseded"),
            pl.lit(False).alias("_redelivered"),
        )
        last_month = len(HISTORY_YEARS) + len(PILOT_MONTHS) - 1
        # A check corrected after it was sent is sent again with the next month.
        eligible = (
            (frame["_to"] >= len(HISTORY_YEARS))
            & (frame["_to"] < last_month)
            & frame["_anomaly"].is_null()
            & frame["archive_no"].is_not_null()
        )
        frame, copies = redeliver_later(frame, rng, 0.01, eligible, _reweighed)
        frame = pl.concat([frame, copies.with_columns(pl.col("_to") + 1)])
        frame = self._late_checks(frame, plan, rng, first_chunk)
        for i, delivery in enumerate(plan):
            self.emit("health_checks", delivery, frame.filter(pl.col("_to") == i), rng)

    def _late_checks(self, frame, plan, rng, first_chunk: bool) -> pl.DataFrame:
        """Moves a few checks of one month into a late file that lacks check_date
        (rejected whole) and its corrected resend."""
        month = next(i for i, d in enumerate(plan) if d.path.startswith(f"{REJECTED_MONTH}/"))
        clean = (
            (pl.col("_to") == month)
            & ~pl.col("_superseded")
            & ~pl.col("_redelivered")
            & pl.col("_anomaly").is_null()
        )
        candidates = np.flatnonzero(frame.select(clean).to_series().to_numpy())
        k = max(int(rng.binomial(len(candidates), 0.03)), int(first_chunk))
        picked = rng.choice(candidates, size=min(k, len(candidates)), replace=False)
        hit = np.zeros(frame.height, dtype=bool)
        hit[picked] = True
        rejected, resent = len(plan) - 2, len(plan) - 1
        moved = frame.filter(pl.Series(hit))
        return pl.concat(
            [
                frame.filter(pl.Series(~hit)),
                moved.with_columns(pl.lit(rejected, pl.Int64).alias("_to")),
                moved.with_columns(pl.lit(resent, pl.Int64).alias("_to")),
            ]
        )

    def _enrollments_plan(self) -> list[Delivery]:
        def ext(i):
            return self.ext("xlsx") if i % 4 == 2 else "csv"

        paths = ["2022-09_在册/enrollments_2022-09-30.csv"] + [
            f"{ym}/enrollments_{ym}.{ext(i)}" for i, (ym, _end) in enumerate(PILOT_MONTHS)
        ]
        _assert_ordered(paths)
        return deliveries(
            paths, offset=self.seed % 4, omit={3: ("monthly_fee_yuan",), 5: ("birth_cert_no",)}
        )

    def _enrollments(self, plan: list[Delivery], enrolled: pl.DataFrame, rng) -> None:
        ends = [day(date(2022, 9, 30))] + [end for _ym, end in PILOT_MONTHS]
        rows = by_events(
            enrolled, ("enroll_date", "leave_date"), {"leave_date": "leave_date"}, ends
        )
        for i, delivery in enumerate(plan):
            self.emit("enrollments", delivery, rows.filter(pl.col("_delivery") == i), rng)


def _with_child_id(rows: pl.DataFrame, rng) -> pl.DataFrame:
    return rows.with_columns(pl.col("_child_id").alias("id_number"))


def _reweighed(rows: pl.DataFrame, rng) -> pl.DataFrame:
    delta = pl.Series(rng.choice([-0.5, -0.3, -0.2, 0.2, 0.3, 0.5], size=rows.height))
    return rows.with_columns((pl.col("weight_kg") + delta).clip(2.0, 25.0).round(1))


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


def _assert_ordered(paths: list[str]) -> None:
    """Supersession follows lexical path order: the plan's order must be that order."""
    if sorted(paths) != paths:
        raise AssertionError(f"delivery paths out of lexical order: {paths}")
