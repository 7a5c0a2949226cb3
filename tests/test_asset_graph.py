"""The asset graph starts where the data does (the landing folder, one observable source asset
per raw source) and publishing depends on what it publishes (the marts) and on the metric the
blocking cross-source check sits on, not on every dbt model."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.config import REPO_ROOT
from pipelines.definitions import defs
from pipelines.defs.ingest.landing import LandingSettings, landing_folder, landing_key
from pipelines.defs.marts.assets import marts_dbt_assets
from pipelines.defs.operations.jobs import refresh_job
from pipelines.defs.quality.checks import CROSS_SOURCE_ASSET, cross_source_checks
from pipelines.ingest.sources import SOURCES
from pipelines.operations.fingerprint import HASH_CACHE, content_version, look_at_raw

GRAPH = defs.resolve_asset_graph()
LANDING = {dg.AssetKey(["landing", s]) for s in SOURCES}
# dbt seeds: reference tables shipped with the code.
SEEDS = {
    dg.AssetKey(["reference", p.stem]) for p in (REPO_ROOT / "dbt_project/seeds").glob("*.csv")
}


def test_the_graph_starts_at_the_landing_folder():
    roots = {key for key in GRAPH.get_all_asset_keys() if not GRAPH.get(key).parent_keys}
    # Other roots are within the one dbt step (seeds, and models of what that step writes first).
    assert roots - marts_dbt_assets.keys == LANDING
    assert roots >= SEEDS
    fed = dg.AssetSelection.assets(*LANDING).downstream(include_self=False).resolve(GRAPH)
    assert set(GRAPH.get_all_asset_keys()) - marts_dbt_assets.keys - fed == LANDING
    for source in SOURCES:
        landing = GRAPH.get(landing_key(source))
        assert landing.is_observable and not landing.is_materializable
        assert landing.group_name == "landing"
        assert f"YIYU_RAW_DIR/{source}/" in landing.description
        assert GRAPH.get(dg.AssetKey(["ingested", source])).parent_keys == {landing_key(source)}


def test_published_warehouse_depends_on_the_marts_and_the_cross_source_metric():
    marts = {
        dg.AssetKey(["marts", p.stem])
        for p in (REPO_ROOT / "dbt_project/models/marts").glob("*.sql")
    }
    assert len(marts) >= 6
    published = GRAPH.get(dg.AssetKey("published_warehouse"))
    assert published.parent_keys == marts | {CROSS_SOURCE_ASSET}
    # A failed blocking check on that metric stops publishing.
    blocking = [s for s in cross_source_checks.check_specs if s.blocking]
    assert [s.asset_key for s in blocking] == [CROSS_SOURCE_ASSET]
    # Everything the refresh builds is still upstream of the published file.
    upstream = dg.AssetSelection.assets("published_warehouse").upstream().resolve(GRAPH)
    ingested = {dg.AssetKey(["ingested", s]) for s in SOURCES}
    assert ingested | {dg.AssetKey(["identity", "child_index"])} <= upstream


def test_refresh_job_observes_the_landing_folder_and_materialises_every_asset():
    selected = refresh_job.selection.resolve(GRAPH)
    materializable = {k for k in GRAPH.get_all_asset_keys() if GRAPH.get(k).is_materializable}
    assert selected == materializable | LANDING


def _land(path: Path, text: str) -> Path:
    """A file that landed a while ago (a file modified just now may still be landing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    landed = time.time() - 300
    os.utime(path, (landed, landed))
    return path


def _observe(source: str) -> dg.AssetObservation:
    result = dg.materialize(
        [landing_folder],
        selection=[landing_key(source)],
        resources={"landing_settings": LandingSettings()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    (event,) = result.get_asset_observation_events()
    return event.asset_observation_data.asset_observation


@pytest.fixture
def landed(yiyu_env: Path) -> Path:
    raw = yiyu_env / "raw"
    _land(raw / "births" / "2023" / "a.csv", "出生医学证明编号,性别\nB1,男\n")
    _land(raw / "staff" / "s.csv", "x\n")
    return raw


def test_an_observation_versions_the_source_folder_by_content(landed: Path, yiyu_env: Path):
    first = _observe("births")
    assert first.asset_key == landing_key("births")
    size = (landed / "births/2023/a.csv").stat().st_size
    assert first.metadata["files"].value == 1 and first.metadata["bytes"].value == size
    assert _observe("births").data_version == first.data_version

    _land(landed / "staff" / "t.csv", "y\n")  # another source's folder: not this version
    assert _observe("births").data_version == first.data_version

    # One byte changed, size and modification time kept: ctime tells, the content differs.
    births = landed / "births/2023/a.csv"
    stat = births.stat()
    births.write_bytes(births.read_bytes().replace(b"B1", b"B2"))
    os.utime(births, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (births.stat().st_size, births.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert _observe("births").data_version != first.data_version
    # An observation writes nothing to the warehouse folder: no run, no lock, no working file.
    assert not (yiyu_env / "warehouse").exists()


def test_an_observation_reuses_stored_hashes_of_unchanged_files(landed: Path, yiyu_env: Path):
    cache = yiyu_env / "warehouse" / HASH_CACHE
    look_at_raw(landed, cache, save=True)  # as a refresh stores them when it starts
    stored = json.loads(cache.read_text())
    births = str(landed / "births/2023/a.csv")
    stored[births][-1] = "0" * 64  # a stored hash the file's content would not give
    cache.write_text(json.dumps(stored))
    observed = _observe("births")
    assert observed.data_version == content_version({"births/2023/a.csv": "0" * 64})
    os.utime(births)  # a new mtime: hashed again
    assert _observe("births").data_version != observed.data_version
