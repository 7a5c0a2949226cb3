"""The landing folder as observable source assets (group `landing`), one per raw source, so the
asset graph starts where the data does. An observation's data version is the digest of the
source folder's content (contract section 7: by content, a stored hash reused only while the
file's stat holds); its metadata counts files and bytes, never a value from a file."""

import warnings
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from pipelines.config import Settings
from pipelines.ingest.sources import SOURCES
from pipelines.operations.fingerprint import HASH_CACHE, content_version, look_at_raw
from pipelines.resources import YiyuSettings

LANDING = "landing"


def landing_key(source: str) -> dg.AssetKey:
    return dg.AssetKey([LANDING, source])


class LandingSettings(YiyuSettings):
    """The settings, only to look at the landing folder: an observation writes nothing, so it
    starts no refresh run (no writer lock, no row in the run history)."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        pass

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        pass


def observe_landing(config: Settings, sources: list[str]) -> Iterator[dg.ObserveResult]:
    """One observation per source of `sources`, from a single look at the landing folder."""
    look = look_at_raw(config.raw_dir, config.warehouse_dir / HASH_CACHE, sources=sources)
    for source in sources:
        files = [rel for rel in look.content if Path(rel).parts[0] == source]
        yield dg.ObserveResult(
            asset_key=landing_key(source),
            data_version=dg.DataVersion(content_version({f: look.content[f] for f in files})),
            metadata={
                "files": len(files),
                "bytes": sum(look.sizes[f] for f in files),
                "files_still_landing": sum(Path(f).parts[0] == source for f in look.unsettled),
            },
        )


def _observe(
    context: dg.AssetExecutionContext, landing_settings: LandingSettings
) -> Iterator[dg.ObserveResult]:
    selected = {key.path[-1] for key in context.selected_asset_keys}
    yield from observe_landing(landing_settings.get(), [s for s in SOURCES if s in selected])


with warnings.catch_warnings():
    # Dagster marks this public decorator beta; its notice would only clutter every console.
    warnings.simplefilter("ignore", dg.BetaWarning)
    landing_folder = dg.multi_observable_source_asset(
        name="landing_folder",
        specs=[
            dg.AssetSpec(
                landing_key(source.name),
                group_name=LANDING,
                description=f"{source.label_zh} ({source.name}): the raw files under "
                f"YIYU_RAW_DIR/{source.name}/, as the senders delivered them.",
                kinds={"file"},
            )
            for source in SOURCES.values()
        ],
        can_subset=True,
    )(_observe)


defs = dg.Definitions(assets=[landing_folder], resources={"landing_settings": LandingSettings()})
