"""The dbt project on Spark (the `spark` target of dbt_project/profiles.yml), from the working
database's sources exported as Parquet, and the comparison of its tables with DuckDB's.

dbt-spark and pyspark live in their own venv (requirements-spark.lock; `bash dev.sh test`
makes it), so the main one stays as light as it is; dbt runs there as a separate process.
Each build gets its own folder: Spark's warehouse, its metastore and the exported sources
(docs/scale-out.md).

    python -m pipelines.marts.spark OUT_DIR   # the settings' working database, built on Spark
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from pipelines.config import REPO_ROOT, Settings
from pipelines.marts.dbt import DBT_PROJECT_DIR
from pipelines.warehouse import work_db

SPARK_VENV_ENV = "YIYU_SPARK_VENV"
DEFAULT_SPARK_VENV = REPO_ROOT / ".venv-spark"
SPARK_DIR_ENV = "YIYU_SPARK_DIR"
# Materialisations that leave rows on Spark's disk (views are compared through their readers).
STORED = {"table", "seed", "incremental"}


def spark_venv() -> Path:
    return Path(os.environ.get(SPARK_VENV_ENV) or DEFAULT_SPARK_VENV)


def spark_dbt(venv: Path | None = None) -> Path | None:
    """The dbt of the Spark venv, None when that venv is not installed."""
    dbt = (venv or spark_venv()) / "bin" / "dbt"
    return dbt if dbt.exists() else None


def project_sources(project_dir: Path = DBT_PROJECT_DIR) -> list[tuple[str, str]]:
    """(schema, table) of every source the dbt project declares (models/**/*.yml)."""
    found = []
    for path in sorted((project_dir / "models").rglob("*.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            schema = source.get("schema", source["name"])
            found += [(schema, t.get("identifier", t["name"])) for t in source["tables"]]
    return sorted(found)


def export_sources(settings: Settings, root: Path) -> dict[str, int]:
    """Each source table of the working database as root/<schema>/<table>/part-0.parquet
    (what macros/spark.sql registers); the rows written per table."""
    written = {}
    with work_db(settings, read_only=True) as con:
        for schema, table in project_sources():
            folder = root / schema / table
            folder.mkdir(parents=True, exist_ok=True)
            target = str(folder / "part-0.parquet").replace("'", "''")
            relation = f'"{schema}"."{table}"'
            con.execute(f"COPY (SELECT * FROM {relation}) TO '{target}' (FORMAT parquet)")
            written[f"{schema}.{table}"] = con.execute(
                f"SELECT count(*) FROM read_parquet('{target}')"
            ).fetchone()[0]
    return written


@dataclass(frozen=True)
class SparkBuild:
    """One `dbt build` on Spark in `folder`: warehouse/, metastore_db/, sources/, target/."""

    folder: Path
    returncode: int
    log: str

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse"

    @property
    def target(self) -> Path:
        return self.folder / "target"

    def run_results(self) -> dict:
        return json.loads((self.target / "run_results.json").read_text())

    def failures(self) -> str:
        """What failed: the nodes that did not pass with dbt's message, else the log's end."""
        try:
            results = self.run_results()["results"]
        except (OSError, ValueError, KeyError):
            return self.log[-5000:]
        failed = [r for r in results if r["status"] not in ("success", "pass", "skipped")]
        return "\n".join(f"{r['unique_id']}: {r['status']}: {r.get('message')}" for r in failed)

    def stored_tables(self) -> list[tuple[str, str]]:
        """(schema, table) of every model and seed the build stored as a table."""
        manifest = json.loads((self.target / "manifest.json").read_text())
        return sorted(
            (node["schema"], node["alias"])
            for node in manifest["nodes"].values()
            if node["resource_type"] in ("model", "seed")
            and node["config"]["materialized"] in STORED
        )

    def table_path(self, schema: str, table: str) -> Path:
        return self.warehouse / f"{schema}.db" / table


def build_on_spark(settings: Settings, folder: Path, dbt: Path, *args: str) -> SparkBuild:
    """Export the settings' sources into folder/sources, register them as Parquet tables in a
    metastore of the folder's own and build the project there (`args` go to `dbt build`)."""
    sources = folder / "sources"
    export_sources(settings, sources)
    env = {**os.environ, SPARK_DIR_ENV: os.fspath(folder)}
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no lookup of the host's name
    common = [
        "--target", "spark",
        "--project-dir", os.fspath(DBT_PROJECT_DIR),
        "--profiles-dir", os.fspath(DBT_PROJECT_DIR),
        "--target-path", os.fspath(folder / "target"),
        "--log-path", os.fspath(folder / "target"),
    ]  # fmt: skip
    register = [
        "run-operation", "register_parquet_sources",
        "--args", json.dumps({"root": os.fspath(sources)}),
    ]  # fmt: skip
    log = []
    for command in ([*register, *common], ["build", *common, *args]):
        done = subprocess.run([os.fspath(dbt), *command], env=env, capture_output=True, text=True)
        log.append(done.stdout + done.stderr)
        if done.returncode != 0:
            break
    return SparkBuild(folder, done.returncode, "\n".join(log))


def digest(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> tuple[int, str]:
    """Rows and MD5 of a relation (SQL) over the named columns: every row as DuckDB prints it,
    sorted. The same for a table wherever it was computed."""
    selected = ", ".join(f'"{c}"' for c in columns)
    return con.execute(
        f"SELECT count(*), md5(coalesce(string_agg(line, chr(10) ORDER BY line), '')) "
        f"FROM (SELECT CAST(r AS VARCHAR) AS line FROM (SELECT {selected} FROM {relation}) AS r)"
    ).fetchone()


def columns_of(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def parquet_relation(folder: Path) -> str:
    return f"read_parquet('{os.fspath(folder).replace(chr(39), chr(39) * 2)}/*.parquet')"


def compare_digests(
    con: duckdb.DuckDBPyConnection, build: SparkBuild, relations: dict[str, str] | None = None
) -> dict[str, tuple[tuple[int, str], tuple[int, str] | None]]:
    """Digest of each table the Spark build stored against the same table in DuckDB (`con`,
    the working database): {schema.table: (duckdb, spark)}. `relations` replaces the Spark
    side of a table by another relation (SQL)."""
    relations = relations or {}
    compared = {}
    for schema, table in build.stored_tables():
        name = f"{schema}.{table}"
        columns = columns_of(con, schema, table)
        path = build.table_path(schema, table)
        spark_side = relations.get(name) or (parquet_relation(path) if path.is_dir() else None)
        compared[name] = (
            digest(con, f'"{schema}"."{table}"', columns),
            digest(con, spark_side, columns) if spark_side else None,
        )
    return compared


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    dbt = spark_dbt()
    if dbt is None:
        print(f"no dbt-spark venv at {spark_venv()} (bash dev.sh test makes it)", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    build = build_on_spark(settings, Path(argv[0]).resolve(), dbt)
    if build.returncode != 0:
        print(build.failures(), file=sys.stderr)
        return 1
    with work_db(settings, read_only=True) as con:
        compared = compare_digests(con, build)
    for name, (duck, spark) in compared.items():
        print(f"{'same' if duck == spark else 'DIFFERENT'}\t{name}\t{duck[0]} rows")
    return 0 if all(duck == spark for duck, spark in compared.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
