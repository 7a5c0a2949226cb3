"""The project's Dagster instance configuration (`dagster.yaml` beside this module), laid into
DAGSTER_HOME for `yiyu refresh`, `dagster dev` (`dev.sh ui`) and the services of `deploy/`.

Run as `python -m pipelines.operations.instance HOME` before a Dagster process starts: it lays
the file when HOME has none and prints a warning when the instance found there sends telemetry.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import yaml

SHIPPED = Path(__file__).with_name("dagster.yaml")
# Dagster reads the first of these it finds in DAGSTER_HOME.
CONFIG_NAMES = ("dagster.yaml", "dagster.yml")


def instance_config(home: Path) -> Path | None:
    """The instance configuration file Dagster reads in `home`, if there is one."""
    return next((home / name for name in CONFIG_NAMES if (home / name).is_file()), None)


def ensure_instance(home: Path) -> Path:
    """Lay the shipped configuration into `home` (created when missing) unless it already holds
    one, which is kept as it is. Returns the configuration file Dagster will read."""
    home.mkdir(parents=True, exist_ok=True)
    existing = instance_config(home)
    if existing is not None:
        return existing
    _drop_queued_telemetry(home)
    target = home / CONFIG_NAMES[0]
    partial = home / f".{CONFIG_NAMES[0]}.{os.getpid()}.tmp"
    try:
        partial.write_bytes(SHIPPED.read_bytes())
        # A link, not a rename: it never replaces a file laid meanwhile, and is never half-written.
        os.link(partial, target)
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)
    return target


def _drop_queued_telemetry(home: Path) -> None:
    """What Dagster recorded for upload while `home` had no configuration (its instance id, the
    events of `logs/` and `.logs_queue/`): removed, so that no later process sends it."""
    for folder in (".telemetry", ".logs_queue"):
        shutil.rmtree(home / folder, ignore_errors=True)
    for queued in (home / "logs").glob("event.log*"):
        queued.unlink(missing_ok=True)


def telemetry_warning(home: Path) -> str | None:
    """One line when the instance in `home` sends Dagster telemetry (Dagster's default, unless
    its configuration says `telemetry: enabled: false`), else None."""
    config = instance_config(home)
    if config is None:
        return (
            f"WARNING: Dagster telemetry is on: {home} has no dagster.yaml "
            "(the project's configuration turns it off: python -m pipelines.operations.instance)"
        )
    try:
        loaded = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        loaded = None
    telemetry = loaded.get("telemetry") if isinstance(loaded, dict) else None
    if isinstance(telemetry, dict) and telemetry.get("enabled") is False:
        return None
    return (
        f"WARNING: Dagster telemetry is on in {config}: "
        "add `telemetry: enabled: false` to it (docs/operations.md)"
    )


def main(argv: list[str]) -> int:
    """`python -m pipelines.operations.instance [HOME]` (default: $DAGSTER_HOME)."""
    home = argv[0] if argv else os.environ.get("DAGSTER_HOME")
    if not home:
        print("DAGSTER_HOME is not set and no folder was given", file=sys.stderr)
        return 2
    path = Path(home).expanduser().resolve()
    ensure_instance(path)
    warning = telemetry_warning(path)
    if warning is not None:
        print(warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
