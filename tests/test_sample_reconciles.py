"""Ingestion of the shipped sample reconciles, file by file, with the generator's manifest
(what was injected: rows, superseded rows, bad rows by reason code, ID warnings)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import duckdb
import polars as pl
import pytest

from pipelines.config import REPO_ROOT
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.sources import SOURCES

MANIFEST = json.loads((REPO_ROOT / "raw" / "MANIFEST.json").read_text(encoding="utf-8"))
# The manifest names the ways an ID was spoiled; ingestion reports what it did about it.
WARNING_OF = {
    "id_excel_number": "invalid_id_number",
    "id_invalid_check": "invalid_id_number",
    "id_placeholder": "invalid_id_number",
    "id_mother": "id_birth_date_mismatch",
    "sex_mismatch": "id_sex_mismatch",
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_file_reconciles_with_the_manifest(yiyu_env, source):
    raw = REPO_ROOT / "raw" / source
    result = ingest_source(
        SOURCES[source],
        raw,
        duckdb.connect(),
        cache_dir=yiyu_env / "warehouse" / "cache",
        key=b"test-secret-not-for-production",
        today=date(2026, 11, 29),
    )
    expected_files = MANIFEST["sources"][source]["files"]
    audit = {r["file"]: r for r in result.audit.iter_rows(named=True)}
    assert set(audit) == set(expected_files)
    for name, want in expected_files.items():
        got = audit[name]
        quarantined = sum(want["quarantined"].values())
        assert got["rows_read"] == want["rows"], name
        assert got["rows_quarantined"] == quarantined, name
        assert got["rows_superseded"] == want["superseded"], name
        assert got["rows_read"] == got["rows_loaded"] + quarantined + want["superseded"], name
        assert (got["status"] == "rejected") == want["rejected"], name
        reasons = Counter(result.quarantine.filter(pl.col("file") == name)["reason_code"].to_list())
        assert reasons == Counter({k: v for k, v in want["quarantined"].items() if v}), name
        warnings = Counter(result.warnings.filter(pl.col("file") == name)["warning_code"])
        expected_warnings = Counter()
        for kind, count in want.get("warnings", {}).items():
            if kind in WARNING_OF:
                expected_warnings[WARNING_OF[kind]] += count
        assert warnings == expected_warnings, name
