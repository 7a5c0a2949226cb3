"""Indicator definitions shown beside each figure, as the published file's `marts.indicators`
holds them (built by dbt from the indicator seed, the one home of this metadata)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from pipelines.ingest.sources import SOURCES


@dataclass(frozen=True)
class Definition:
    code: str
    name_zh: str
    numerator_zh: str
    denominator_zh: str
    sources: tuple[str, ...]  # source names of pipelines.ingest.sources.SOURCES
    target_zh: str
    unit: str  # ratio, count or slots_per_community
    counts_people: bool  # numerator/denominator count children, staff or survey answers

    @property
    def is_ratio(self) -> bool:
        """A fraction shown as %; counts and slots per community are shown as they are."""
        return self.unit == "ratio"

    @property
    def sources_zh(self) -> str:
        return "、".join(SOURCES[s].label_zh for s in self.sources if s in SOURCES)


@dataclass(frozen=True)
class Indicators:
    """The definitions of one published file by indicator code, in the plan's order."""

    by_code: dict[str, Definition]

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> Indicators:
        """`marts.indicators` rows -> definitions, in `plan_order` (else as stored)."""
        if "plan_order" in frame.columns:
            frame = frame.sort("plan_order", maintain_order=True)
        return cls(
            {
                r["indicator_code"]: Definition(
                    code=r["indicator_code"],
                    name_zh=r["name_zh"],
                    numerator_zh=r["numerator_zh"] or "",
                    denominator_zh=r["denominator_zh"] or "",
                    sources=tuple(s.strip() for s in (r["sources"] or "").split(",") if s.strip()),
                    target_zh=r["target_zh"] or "",
                    unit=r["unit"],
                    counts_people=bool(r["counts_people"]),
                )
                for r in frame.iter_rows(named=True)
            }
        )

    def name(self, code: str) -> str:
        return self.by_code[code].name_zh if code in self.by_code else code

    def is_ratio(self, code: str) -> bool:
        return code in self.by_code and self.by_code[code].is_ratio

    def sources(self, code: str) -> tuple[str, ...]:
        """The sources feeding an indicator; all of them for an indicator not defined."""
        return self.by_code[code].sources if code in self.by_code else tuple(SOURCES)

    @property
    def people(self) -> frozenset[str]:
        """Indicators subject to small-cell suppression."""
        return frozenset(code for code, d in self.by_code.items() if d.counts_people)

    def ordered(self, codes: Iterable[str]) -> list[str]:
        """Codes in the plan's order, then any undefined ones by code."""
        present = set(codes)
        return [c for c in self.by_code if c in present] + sorted(present - set(self.by_code))

    def rank(self) -> dict[str, int]:
        """Position of each code in the plan's order (for sorting frames)."""
        return {code: i for i, code in enumerate(self.by_code)}
