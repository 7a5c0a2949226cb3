"""Hand-built ingested and identity tables for the quality tests, and a Dagster harness.

The tables follow docs/architecture.md. Every row is valid on its own; the tests then spoil
one table as a whole. Stand-in assets with the real keys write them (test input), and a tiny
downstream asset proves that a failing blocking check stops what depends on it.
"""

import hashlib
from datetime import date, timedelta

import dagster as dg
import pandas as pd

from pipelines.config import Settings
from pipelines.defs.quality.checks import source_checks
from pipelines.identity.resolve import SOURCE_RECORDS
from pipelines.ingest.sources import SOURCES
from pipelines.resources import RESOURCES, QualityResource, YiyuSettings
from pipelines.warehouse import work_db

CHILDREN = 40
ENROLLED = 20  # children 0..19 are enrolled

V, D, B, F, INT = "VARCHAR", "DATE", "BOOLEAN", "DOUBLE", "INTEGER"
SCHEMAS: dict[str, dict[str, str]] = {
    "divisions": {"street_code": V, "street_name": V, "community_code": V, "community_name": V},
    "health_facilities": {
        "facility_code": V,
        "facility_name": V,
        "facility_type": V,
        "street_code": V,
        "three_in_one_since": D,
    },
    "births": {
        "record_key": V,
        "birth_cert_key": V,
        "id_key": V,
        "triple_key": V,
        "sex": V,
        "birth_date": D,
        "community_code": V,
    },
    "health_archives": {
        "record_key": V,
        "archive_key": V,
        "id_key": V,
        "birth_cert_key": V,
        "triple_key": V,
        "sex": V,
        "birth_date": D,
        "community_code": V,
        "facility_code": V,
        "archive_date": D,
        "family_doctor_signed_on": D,
        "closed_on": D,
        "close_reason": V,
    },
    "health_checks": {
        "record_key": V,
        "archive_key": V,
        "id_key": V,
        "birth_cert_key": V,
        "triple_key": V,
        "sex": V,
        "birth_date": D,
        "facility_code": V,
        "check_date": D,
        "height_cm": F,
        "weight_kg": F,
        "hemoglobin_g_l": F,
    },
    "enrollments": {
        "record_key": V,
        "id_key": V,
        "birth_cert_key": V,
        "triple_key": V,
        "sex": V,
        "birth_date": D,
        "institution_code": V,
        "class_type": V,
        "enroll_date": D,
        "leave_date": D,
        "monthly_fee_yuan": F,
    },
    "institutions": {
        "institution_code": V,
        "institution_name": V,
        "institution_type": V,
        "street_code": V,
        "community_code": V,
        "slots": INT,
        "is_affordable": B,
        "affordable_since": D,
        "filed_on": D,
        "closed_on": D,
        "provincial_standard_on": D,
        "demonstration_level": V,
    },
    "staff": {
        "record_key": V,
        "staff_key": V,
        "institution_code": V,
        "role": V,
        "hired_on": D,
        "left_on": D,
        "certificate": V,
        "certified_on": D,
    },
    "parenting_surveys": {"survey_no": V, "community_code": V, "survey_date": D, "passed": B},
    "catchments": {"facility_code": V, "community_code": V},
    "child_records": {
        "source": V,
        "record_key": V,
        "child_key": V,
        "link_method": V,
        "is_ambiguous": B,
    },
    "children": {
        "child_key": V,
        "sex": V,
        "birth_date": D,
        "has_archive": B,
        "birth_date_conflict": B,
        "sex_conflict": B,
        **{column: "BIGINT" for column in SOURCE_RECORDS.values()},
    },
}
IDENTITY = ("child_records", "children")


def h(*parts: object) -> str:
    """A stand-in keyed hash: 32 hex characters."""
    return hashlib.md5(":".join(map(str, parts)).encode()).hexdigest()


COMMUNITIES = [f"33020600{s}00{c}" for s in (1, 2) for c in (1, 2, 3)]


def _child(i: int) -> dict:
    born = date(2021, 1, 1) + timedelta(days=20 * i)
    return {
        "id_key": h("id", i),
        "birth_cert_key": h("bc", i),
        "triple_key": h("tr", i),
        "sex": "MF"[i % 2],
        "birth_date": born,
    }


def clean_tables() -> dict[str, list[dict]]:
    """A small, consistent district: 40 children, each born, archived and checked twice."""
    kids = [_child(i) for i in range(CHILDREN)]
    tables: dict[str, list[dict]] = {
        "divisions": [
            {
                "street_code": c[:9],
                "street_name": f"street {c[8]}",
                "community_code": c,
                "community_name": f"community {c}",
            }
            for c in COMMUNITIES
        ],
        "health_facilities": [
            {
                "facility_code": "F01",
                "facility_name": "centre",
                "facility_type": "community_health_center",
                "street_code": "330206001",
                "three_in_one_since": date(2022, 6, 1),
            },
            {
                "facility_code": "F02",
                "facility_name": "hospital",
                "facility_type": "maternal_child_hospital",
                "street_code": "330206002",
            },
        ],
        "births": [
            {**k, "record_key": k["birth_cert_key"], "community_code": COMMUNITIES[i % 6]}
            for i, k in enumerate(kids)
        ],
        "health_archives": [
            {
                **k,
                "record_key": h("ar", i),
                "archive_key": h("ar", i),
                "community_code": COMMUNITIES[i % 6],
                "facility_code": "F01",
                "archive_date": k["birth_date"] + timedelta(days=30),
                "family_doctor_signed_on": k["birth_date"] + timedelta(days=60),
            }
            for i, k in enumerate(kids)
        ],
        "health_checks": [
            {
                **k,
                "birth_cert_key": None,
                "record_key": h("ck", i, days),
                "archive_key": h("ar", i),
                "facility_code": "F01",
                "check_date": k["birth_date"] + timedelta(days=days),
                "height_cm": height,
                "weight_kg": weight,
                "hemoglobin_g_l": 120.0,
            }
            for i, k in enumerate(kids)
            for days, height, weight in ((95, 61.0, 6.2), (370, 75.0, 9.5))
        ],
        "enrollments": [
            {
                **k,
                "record_key": h("en", i),
                "institution_code": f"I0{1 + i % 2}",
                "class_type": "toddler",
                "enroll_date": k["birth_date"] + timedelta(days=400),
                "monthly_fee_yuan": 2500.0,
            }
            for i, k in enumerate(kids[:ENROLLED])
        ],
        "institutions": [
            {
                "institution_code": f"I0{n}",
                "institution_name": f"institution {n}",
                "institution_type": kind,
                "street_code": "330206001",
                "community_code": COMMUNITIES[n - 1],
                "slots": slots,
                "is_affordable": True,
                "affordable_since": date(2021, 1, 1),
                "filed_on": date(2020, 1, 1),
            }
            for n, kind, slots in ((1, "nursery", 20), (2, "care_station", 40), (3, "nursery", 60))
        ]
        + [
            {
                "institution_code": "I04",
                "institution_name": "institution 4",
                "institution_type": "integrated",
                "street_code": "330206002",
                "community_code": COMMUNITIES[4],
                "slots": 30,
                "is_affordable": False,
                "filed_on": date(2020, 1, 1),
                "demonstration_level": "district",
            }
        ],
        "staff": [
            {
                "record_key": h("st", n),
                "staff_key": h("sk", n),
                "institution_code": f"I0{1 + n % 4}",
                "role": "caregiver",
                "hired_on": date(2020, 6, 1),
                "certificate": "保育师",
                "certified_on": date(2020, 1, 1),
            }
            for n in range(10)
        ],
        "parenting_surveys": [
            {
                "survey_no": f"S{n:03d}",
                "community_code": COMMUNITIES[n % 6],
                "survey_date": date(2023, 3, 1),
                "passed": n % 5 != 0,
            }
            for n in range(20)
        ],
        "catchments": [{"facility_code": "F01", "community_code": c} for c in COMMUNITIES],
    }
    links = [
        ("births", "birth_cert_key", tables["births"]),
        ("health_archives", "record_key", tables["health_archives"]),
        ("health_checks", "record_key", tables["health_checks"]),
        ("enrollments", "record_key", tables["enrollments"]),
    ]
    tables["child_records"] = [
        {
            "source": source,
            "record_key": row[key],
            "child_key": h("child", row["id_key"]),
            "link_method": "id_number",
            "is_ambiguous": False,
        }
        for source, key, rows in links
        for row in rows
    ]
    tables["children"] = [
        {"child_key": h("child", k["id_key"]), "sex": k["sex"], "birth_date": k["birth_date"]}
        for k in kids
    ]
    return tables


def write_table(con, qualified: str, rows: list[dict]) -> None:
    """Create `schema.table` with the architecture's types, `_file` and `_row` included."""
    schema, name = qualified.split(".")
    columns = SCHEMAS[name]
    con.execute(f"create schema if not exists {schema}")
    ddl = ", ".join(f"{c} {t}" for c, t in columns.items())
    lineage = ", _file VARCHAR, _row BIGINT" if schema == "ingested" else ""
    con.execute(f"create or replace table {qualified} ({ddl}{lineage})")
    if not rows:
        return
    names = list(columns) + (["_file", "_row"] if lineage else [])
    values = [
        [row.get(c) for c in columns] + ([f"{name}/day1.csv", n + 2] if lineage else [])
        for n, row in enumerate(rows)
    ]
    frame = pd.DataFrame(values, columns=names)  # noqa: F841 (read by DuckDB below)
    con.execute(f"insert into {qualified} ({', '.join(names)}) select * from frame")


def children_of(tables: dict[str, list[dict]], sources: list[str]) -> list[dict]:
    """identity.children as identity builds it, worked out here from the records as the
    tables stand: one row per child of the child records, its sex and birth date from
    `children`, its records per source, and its conflict flags (two birth dates or sexes)."""
    child_of = {(r["source"], r["record_key"]): r["child_key"] for r in tables["child_records"]}
    given = {c["child_key"]: c for c in tables["children"]}
    counts: dict[str, dict[str, int]] = {}
    dates: dict[str, set] = {}
    sexes: dict[str, set] = {}
    for source in sources:
        for row in tables[source]:
            child = child_of.get((source, row["record_key"]))
            if child is None:  # a record the stand-in index leaves out
                continue
            per_source = counts.setdefault(child, {})
            per_source[source] = per_source.get(source, 0) + 1
            dates.setdefault(child, set()).add(row["birth_date"])
            sexes.setdefault(child, set()).add(row["sex"])
    return [
        {
            "child_key": child,
            "sex": given.get(child, {}).get("sex"),
            "birth_date": given.get(child, {}).get("birth_date"),
            "has_archive": "health_archives" in per_source,
            "birth_date_conflict": len(dates[child]) > 1,
            "sex_conflict": len(sexes[child]) > 1,
            **{column: per_source.get(s) for s, column in SOURCE_RECORDS.items()},
        }
        for child, per_source in counts.items()
    ]


def work(read_only: bool = False):
    """The working database of the settings the environment gives now."""
    return work_db(Settings.from_env(), read_only=read_only)


def stand_in_assets(tables: dict[str, list[dict]]) -> list:
    """Assets with the real keys that write the given tables, plus a tiny downstream mart.
    Like the real ingestion, each source starts its table's row-level validation."""

    def ingested(source: str) -> dg.AssetsDefinition:
        @dg.asset(key=["ingested", source])
        def _write(
            context: dg.AssetExecutionContext, settings: YiyuSettings, quality: QualityResource
        ) -> None:
            with work_db(settings.get()) as con:
                write_table(con, f"ingested.{source}", tables[source])
                quality.start_validation(con, source, len(tables[source]), context.log)

        return _write

    child_sources = ["births", "health_archives", "health_checks", "enrollments"]

    @dg.asset(key=["identity", "child_index"], deps=[["ingested", s] for s in child_sources])
    def child_index() -> None:
        with work() as con:
            write_table(con, "identity.child_records", tables["child_records"])
            write_table(con, "identity.children", children_of(tables, child_sources))

    # Like the real marts, the probe reads the child index and every ingested source.
    @dg.asset(deps=[["identity", "child_index"], *(["ingested", s] for s in SOURCES)])
    def mart_probe() -> None:
        with work() as con:
            con.execute("create or replace table main.mart_probe as select 1 as built")

    return [*(ingested(s) for s in SCHEMAS if s not in IDENTITY), child_index, mart_probe]


def refresh(tables: dict[str, list[dict]]) -> dg.ExecuteInProcessResult:
    """One run: the stand-in assets, every source's quality checks, and the probe mart."""
    return dg.materialize(
        [*stand_in_assets(tables), *(source_checks(s) for s in SOURCES)],
        resources=RESOURCES,
        raise_on_error=False,
    )


def probe_built(result: dg.ExecuteInProcessResult) -> bool:
    return any(
        e.asset_key == dg.AssetKey("mart_probe")
        for e in (
            m.event_specific_data.materialization for m in result.get_asset_materialization_events()
        )
    )


def check_evaluation(result: dg.ExecuteInProcessResult, asset: list[str], check: str):
    (found,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(asset) and e.check_name == check
    ]
    return found


def history(run_id: str | None = None) -> dict[tuple[str, str], tuple]:
    """(dataset, check_name) -> (passed, status_change, observed_value) of one run (or latest)."""
    with work(read_only=True) as con:
        if run_id is None:
            rows = con.execute(
                "select dataset, check_name, passed, status_change, observed_value"
                " from quality.check_status_latest"
            ).fetchall()
        else:
            rows = con.execute(
                "select dataset, check_name, passed, status_change, observed_value"
                " from quality.check_results where run_id = ?",
                [run_id],
            ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}
