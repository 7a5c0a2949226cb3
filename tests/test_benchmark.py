"""The engine floor of the benchmark reads what the generator wrote, hashes as HMAC does and
links records into children as the contract does.

The floor is the bound the refresh is measured against, so it must do the real work: read
every row of every file (all encodings and formats of a generated delivery; the generator's
manifest says how many rows each file holds), compute the contract's keyed hash, checked
here against Python's own `hmac`, and link the records (contract section 3), checked on
hand-made records whose children are known.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import polars as pl

from benchmarks.floor_link import link
from benchmarks.floor_read import keyed, read_file, read_source
from benchmarks.report import against_previous, floor_figure, previous_run
from pipelines.ingest.sources import SOURCES
from pipelines.sample import write_sample

KEY = "benchmark-test-key"


def test_floor_reads_every_row_and_hashes_like_python_hmac(tmp_path):
    raw = tmp_path / "raw"
    write_sample(children=300, seed=7, out=raw)
    manifest = json.loads((raw / "MANIFEST.json").read_text(encoding="utf-8"))

    for source, declared in manifest["sources"].items():
        for name, entry in declared["files"].items():
            assert read_file(raw / source / name).height == entry["rows"], (source, name)

    clear = read_source(raw, SOURCES["births"]).drop_nulls("birth_cert_no")
    hashed = clear.select(keyed("birth_cert_no", "birth_cert", KEY))["birth_cert_key"]
    expected = [
        hmac.new(KEY.encode(), f"birth_cert:{v.upper()}".encode(), hashlib.sha256).hexdigest()[:32]
        for v in clear["birth_cert_no"]
    ]
    assert len(expected) > 100
    assert hashed.to_list() == expected


def test_floor_figure_is_the_mean_of_the_floors_before_and_after_else_the_one():
    before, after = {"wall_s": 2.0, "cpu_s": 3.0}, {"wall_s": 3.0, "cpu_s": 5.0}
    assert floor_figure({"floor_before": before, "floor": after}, "wall_s") == 2.5
    assert floor_figure({"floor_before": before, "floor": after}, "cpu_s") == 4.0
    assert floor_figure({"floor": after}, "wall_s") == 3.0  # results saved before the bracketing


def test_the_refresh_cost_is_its_floor_ratio_over_the_saved_runs():
    saved = {
        "date": "2026-12-01T00:00:00+00:00",
        "generator": "g",
        "full": {"wall_s": 20.0, "cpu_s": 30.0},
        "floor": {"wall_s": 2.0, "cpu_s": 3.0, "phases": {"read": 1.0, "link": 0.5}},
    }
    now = {
        "full": {"wall_s": 33.0, "cpu_s": 40.0},
        "floor_before": {"wall_s": 2.0, "cpu_s": 4.0},
        "floor": {"wall_s": 4.0, "cpu_s": 4.0},
    }
    assert against_previous(now) is None  # nothing saved to compare with
    now["previous_run"] = previous_run(saved)
    wall, cpu = against_previous(now)  # (33 / 3) / (20 / 2) and (40 / 4) / (30 / 3)
    assert (round(wall, 9), round(cpu, 9)) == (1.1, 1.0)
    assert now["previous_run"]["floor_links"]
    del saved["floor"]["phases"]  # a floor saved before it linked the records
    assert not previous_run(saved)["floor_links"]


def test_floor_links_records_into_the_contracts_children():
    rows = [  # (ID number, birth certificate, archive number, triple); the child it belongs to
        (None, "B1", None, "T1", "a"),  # a birth with a certificate only ...
        ("I1", None, "A1", "T1", "a"),  # ... and an archive with the ID only: one triple
        (None, None, "A1", None, "a"),  # a check by its archive number
        (None, "B1", "A2", None, "a"),  # a mover's second archive, by the certificate
        ("I2", "B2", None, "T2", "b"),  # two children of one triple with two ID numbers
        ("I3", "B3", None, "T2", "c"),  # stay apart ...
        (None, None, None, "T2", "d"),  # ... and a record of that triple alone is ambiguous
        (None, None, None, "T3", "e"),  # identifier-less records of one triple are one child
        (None, None, None, "T3", "e"),
        (None, None, None, None, None),  # nothing to link by
    ]
    records = pl.DataFrame(
        [r[:4] for r in rows],
        schema=["id_key", "birth_cert_key", "archive_key", "triple"],
        orient="row",
    )
    children = link(records).tolist()
    assert children[-1] == -1
    partition = {}
    for child, (*_, expected) in zip(children[:-1], rows[:-1], strict=True):
        partition.setdefault(child, set()).add(expected)
    assert sorted(map(sorted, partition.values())) == [["a"], ["b"], ["c"], ["d"], ["e"]]
    assert len(partition) == 5
