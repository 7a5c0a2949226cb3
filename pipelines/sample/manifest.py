"""MANIFEST.json: per source and file, rows written, injected bad rows per reason code,
superseded rows and injected warning-only anomalies. No timestamps: same run, same bytes."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl

from pipelines.sample.defects import REASONS
from pipelines.sample.plan import Delivery

FORMAT_VERSION = 1


class Manifest:
    def __init__(self, children: int, seed: int):
        self.children, self.seed = children, seed
        self.files: dict[str, dict[str, dict]] = defaultdict(dict)
        self.population: Counter = Counter()

    def count(self, source: str, delivery: Delivery, frame: pl.DataFrame) -> None:
        entry = self.files[source].setdefault(delivery.path, self._new_entry(delivery))
        entry["rows"] += frame.height
        if delivery.drop_required:
            entry["quarantined"]["missing_required_column"] += frame.height
            return
        for reason, n in _tally(frame, "_bad").items():
            entry["quarantined"][reason] += n
        for code, n in _tally(frame, "_anomaly").items():
            entry["warnings"][code] = entry["warnings"].get(code, 0) + n
        entry["superseded"] += int(frame["_superseded"].sum())

    @staticmethod
    def _new_entry(delivery: Delivery) -> dict:
        return {
            "format": delivery.fmt,
            "encoding": delivery.style.encoding if delivery.fmt == "csv" else None,
            "rejected": delivery.drop_required is not None,
            "missing_column": delivery.drop_required,
            "rows": 0,
            "quarantined": dict.fromkeys(REASONS, 0),
            "superseded": 0,
            "warnings": {},
        }

    def as_dict(self) -> dict:
        sources = {}
        for source in sorted(self.files):
            files = {}
            for path in sorted(self.files[source]):
                entry = dict(self.files[source][path])
                quarantined = sum(entry["quarantined"].values())
                entry["loaded"] = entry["rows"] - quarantined - entry["superseded"]
                entry["warnings"] = dict(sorted(entry["warnings"].items()))
                files[path] = entry
            sources[source] = {"totals": _totals(files.values()), "files": files}
        return {
            "format_version": FORMAT_VERSION,
            "generator": "yiyu sample",
            "children": self.children,
            "seed": self.seed,
            "reason_codes": list(REASONS),
            "population": dict(sorted(self.population.items())),
            "sources": sources,
        }

    def write(self, out: Path) -> None:
        text = json.dumps(self.as_dict(), ensure_ascii=False, indent=2)
        (out / "MANIFEST.json").write_text(text + "\n", encoding="utf-8")


def _tally(frame: pl.DataFrame, column: str) -> dict[str, int]:
    counts = frame[column].drop_nulls().value_counts()
    return dict(zip(counts[column].to_list(), counts["count"].to_list(), strict=True))


def _totals(entries) -> dict:
    total = {
        "files": 0,
        "rows": 0,
        "loaded": 0,
        "superseded": 0,
        "quarantined": dict.fromkeys(REASONS, 0),
        "warnings": Counter(),
    }
    for e in entries:
        total["files"] += 1
        for key in ("rows", "loaded", "superseded"):
            total[key] += e[key]
        for reason, n in e["quarantined"].items():
            total["quarantined"][reason] += n
        total["warnings"].update(e["warnings"])
    total["warnings"] = dict(sorted(total["warnings"].items()))
    return total
