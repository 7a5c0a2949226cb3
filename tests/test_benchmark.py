"""The engine floor of the benchmark reads what the generator wrote and hashes as HMAC does.

The floor is the bound the refresh is measured against, so it must do the real work: read
every row of every file (all encodings and formats of a generated delivery; the generator's
manifest says how many rows each file holds) and compute the contract's keyed hash, checked
here against Python's own `hmac`.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from benchmarks.floor import keyed, read_file, read_source
from benchmarks.report import floor_figure
from pipelines.lib.sources import SOURCES
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
