"""The Dagster resources of the code location: the settings of a run and its data quality.

The settings are read when a run (or a sensor tick) starts, in the process that executes it,
not when the definitions are imported: the UI, the daemon, `yiyu refresh` and the tests each
run with their own environment, and a test changes it between runs. A field left unset (the
default) takes its variable from that environment; one set in the launchpad overrides it.

Setting up `settings` for a run checks them (contract section 1: a bad value fails the run
before its first step) and starts the run as pipelines/operations/guard.py describes (the
writer lock, the run's row); its teardown records how the run ended.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import duckdb
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import Field, PrivateAttr

from pipelines.config import ENV_VARS, Settings, check_landing_folder
from pipelines.ingest.handles import refresh_public_key
from pipelines.ingest.secret import link_secret, load_link_key, secret_file
from pipelines.operations.failpoints import failpoint
from pipelines.operations.guard import begin_run, end_run, landing_warnings, reads_raw
from pipelines.quality.ge import start_worker, stop_worker
from pipelines.quality.history import RecordedCheck, Run
from pipelines.quality.report import run_report_page
from pipelines.quality.run import run_checks, start_validation
from pipelines.quality.sample import SampleValidation
from pipelines.quality.suites import start_parsing_suites

FROM_ENV = "unset: {} of the run's environment (contract section 1)"


class YiyuSettings(dg.ConfigurableResource):
    """The settings of contract section 1 for one run (`get()`), the link secret
    (`link_key()`) and the worklist public key (`worklist_key()`)."""

    raw_dir: str | None = Field(default=None, description=FROM_ENV.format("YIYU_RAW_DIR"))
    warehouse_path: str | None = Field(
        default=None, description=FROM_ENV.format("YIYU_WAREHOUSE_PATH")
    )
    as_of: str | None = Field(default=None, description=FROM_ENV.format("YIYU_AS_OF"))
    period_start: str | None = Field(default=None, description=FROM_ENV.format("YIYU_PERIOD_START"))
    district_code: str | None = Field(
        default=None, description=FROM_ENV.format("YIYU_DISTRICT_CODE")
    )
    district_name: str | None = Field(
        default=None, description=FROM_ENV.format("YIYU_DISTRICT_NAME")
    )
    small_cell_k: int | None = Field(default=None, description=FROM_ENV.format("YIYU_SMALL_CELL_K"))
    timezone: str | None = Field(default=None, description=FROM_ENV.format("YIYU_TIMEZONE"))
    duckdb_memory_limit: str | None = Field(
        default=None, description=FROM_ENV.format("YIYU_DUCKDB_MEMORY_LIMIT")
    )
    worklist_public_key: str | None = Field(
        default=None, description=FROM_ENV.format("YIYU_WORKLIST_PUBLIC_KEY")
    )
    # A path only: no run ever reads the private key (it is for `yiyu worklists`).
    worklist_private_key: str | None = Field(
        default=None, description=FROM_ENV.format("YIYU_WORKLIST_PRIVATE_KEY")
    )
    # Dagster shows resource config in the UI: a secret goes in as dg.EnvVar, never a value.
    link_secret: str | None = Field(
        default=None,
        description="set only as dg.EnvVar; unset: YIYU_LINK_SECRET of the run's environment,"
        " else the generated key file",
    )

    _resolved: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._resolved = self._resolve()  # once per run: every step sees the same settings
        run = context.run
        if run is None:  # a sensor tick, not a run
            return
        raw_dir = self._resolved.raw_dir
        if reads_raw(run):
            check_landing_folder(raw_dir)
        self._check_key()
        if reads_raw(run):
            self.worklist_key()  # a missing or weak public key stops the run before it starts
        state = begin_run(self._resolved, run, os.environ, self.link_key, context.log.info)
        if reads_raw(run) and state.holds == 1:
            for warning in landing_warnings(raw_dir):
                context.log.warning(warning)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if context.run is not None:
            end_run(context.run.run_id, context.instance)

    def get(self) -> Settings:
        """The run's settings (read now when used outside a run, e.g. by a sensor)."""
        return self._resolved or self._resolve()

    def link_key(self) -> bytes:
        """The HMAC key of the pseudonymous keys (contract section 3)."""
        if self.link_secret:
            return load_link_key(self.link_secret, secret_file())
        return link_secret()

    def worklist_key(self) -> RSAPublicKey:
        """The public key the handles are encrypted to (contract section 8); at the default
        files, a pair is generated when neither exists."""
        return refresh_public_key(self.get())

    def _check_key(self) -> None:
        """A weak key stops the run now; a missing key file is generated when first used."""
        if self.link_secret or os.environ.get("YIYU_LINK_SECRET") or secret_file().exists():
            self.link_key()

    def _resolve(self) -> Settings:
        configured = {
            variable: str(value)
            for field, variable in ENV_VARS.items()
            if (value := getattr(self, field)) is not None
        }
        return Settings.from_env({**os.environ, **configured})


class QualityResource(dg.ConfigurableResource):
    """Data quality in one run: the GE worker process for the run's lifetime, and the
    row-level validations that ingestion steps start for the check steps of the same run
    (GE validates one source on the other core while the run ingests the next)."""

    settings: YiyuSettings

    _started: dict[str, SampleValidation] = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # GE imports in its worker while the run starts; the suites are parsed ahead.
        start_worker()
        start_parsing_suites()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        stop_worker()

    def start_validation(
        self, con: duckdb.DuckDBPyConnection, dataset: str, rows: int, log: dg.DagsterLogManager
    ) -> None:
        """Start the row-level validation of the table an ingestion step has just written
        (`rows` rows) for its check step. When it cannot start, the check validates the table
        itself; the warning names the error's type only (its text may quote a value)."""
        try:
            started = start_validation(con, dataset, rows)
        except Exception as error:
            log.warning(
                f"{dataset}: row-level validation not started at ingestion"
                f" ({type(error).__name__}); its check step validates the table itself"
            )
            return
        if started is not None:
            self._started[dataset] = started

    def run_checks(self, dataset: str, run: Run) -> list[RecordedCheck]:
        """Check `dataset` (or the cross-source suite), taking up what its ingestion started."""
        failpoint("checks")
        return run_checks(dataset, run, self.settings.get(), self._started.pop(dataset, None))

    def report_page(self, run_id: str) -> Path:
        """The run's HTML page of check results."""
        return run_report_page(self.settings.get().warehouse_dir, run_id)


SETTINGS = YiyuSettings()
QUALITY = QualityResource(settings=SETTINGS)
# The one instance of each, under these keys, in every Definitions that needs them (Dagster
# merges the definitions of pipelines/defs/ and requires the same object for a shared key).
RESOURCES: dict[str, dg.ConfigurableResource] = {"settings": SETTINGS, "quality": QUALITY}
