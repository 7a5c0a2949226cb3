"""`yiyu worklists` (contract section 8): one owner-only XLSX per recipient of the latest period,
its rows, order, headers and text cells, the clear handles, the export log, and the refusals
(missing or wrong private key, a file as --out, an unknown recipient) that write nothing.

The fast tests export a hand-made working state whose handles are sealed the way ingestion
seals them; the slow ones export a real refresh of the shipped sample."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import stat
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.config import REPO_ROOT, Settings
from pipelines.ingest import handles
from pipelines.ingest.pseudonymise import keyed_hash
from pipelines.worklists import sheets
from pipelines.worklists.command import run_worklists
from pipelines.worklists.log import COLUMNS as LOG_COLUMNS
from pipelines.worklists.sheets import HEALTH_COLUMNS, INSTITUTION_COLUMNS, LIST, NOTES
from tests.processes import SECRET, YIYU, refresh, yiyu

PERIOD, D = "2023Q2", date(2023, 6, 30)
CENTRE, OTHER, NURSERY = "F001", "F002", "I001"
IDENTIFIER_HEADERS = ("号码 (handle)", "社区代码 (community_code)",
                      "建档机构代码 (handle_facility_code)")  # fmt: skip
CENTRE_R = ("health_facility", CENTRE, "新碶街道社区卫生服务中心")
NURSERY_R = ("institution", NURSERY, "小蜜蜂托育园")
# Clear handles: a formula-like archive number, a birth certificate, an enrollment number.
CLEAR = {
    ("archive_no", "k-arch"): '=HYPERLINK("http://x","y")',
    ("birth_cert_no", "k-cert"): "O330000001",
    ("birth_cert_no", "k-twin"): "O330000002",
    ("enrollment_no", "k-enr"): "00012",
}
REASON_ZH = {"no_archive": "未建档", "behind_schedule": "未按4:2:2系统管理",
             "enrolled_without_entry_check": "入托前未体检"}  # fmt: skip
COLUMNS = ("period_end", "reason", "recipient", "handle_kind", "handle_key", "row_key",
           "birth_date", "sex", "community_code", "community_name", "handle_facility_code",
           "milestones_due", "checks_done", "enroll_date", "class_type")  # fmt: skip
BORN, Q1 = date(2022, 3, 1), date(2023, 3, 31)
ROWS = [
    # Twins: same reason, community and birth date; the handle orders them.
    (D, "no_archive", CENTRE_R, "birth_cert_no", "k-twin", "c2", BORN, "F", "C01", "+社区"),
    (D, "no_archive", CENTRE_R, "birth_cert_no", "k-cert", "c1", BORN, "M", "C01", "+社区"),
    (D, "behind_schedule", CENTRE_R, "archive_no", "k-arch", "c3", date(2021, 9, 1), "M", "C00",
     "甲社区", OTHER, 4, 2),
    (D, "no_archive", CENTRE_R, "none", None, "c4", date(2022, 1, 5), None, "C02", "乙社区"),
    (D, "no_archive", ("unassigned", "unassigned", "未分配"), "none", None, "u1", BORN),
    (D, "enrolled_without_entry_check", NURSERY_R, "enrollment_no", "k-enr", "e1", BORN, None,
     "C01", None, None, None, None, date(2023, 5, 4), "toddler_small"),
    (Q1, "no_archive", CENTRE_R, "birth_cert_no", "k-cert", "c1"),  # an earlier period
]  # fmt: skip
SETUP = """
CREATE SCHEMA worklist; CREATE SCHEMA marts; CREATE SCHEMA meta; CREATE SCHEMA reference;
CREATE TABLE worklist.follow_up_rows AS SELECT * FROM frame;
CREATE TABLE marts.follow_up_backlog AS SELECT period, recipient_code, recipient_name,
    recipient_type, reason, count(*) AS children FROM frame GROUP BY ALL;
CREATE TABLE marts.indicator_values AS SELECT * FROM (VALUES ('2023Q1', DATE '2023-03-31'),
    ('2023Q2', DATE '2023-06-30')) t(period, period_end);
CREATE TABLE marts.indicators AS SELECT * FROM (VALUES ('record_filing_rate',
    '婴幼儿健康档案建档率')) t(indicator_code, name_zh);
CREATE TABLE meta.run_settings AS SELECT 'run-1' AS run_id;
CREATE TABLE reference.follow_up_reasons AS SELECT * FROM (VALUES
    ('no_archive', '未建档', 'record_filing_rate', 'health_facility', '无档案', 1),
    ('no_check_in_year', '近一年未体检', 'health_management_rate', 'health_facility', '无', 2),
    ('behind_schedule', '未按4:2:2系统管理', 'systematic_management_rate', 'health_facility',
     '少于应检次数', 3),
    ('enrolled_without_entry_check', '入托前未体检', 'enrollment_check_rate', 'institution',
     '入托前无体检', 4)
) t(reason, reason_zh, indicator_code, recipient_type, definition_zh, reason_order);
"""


def _keys(folder: Path) -> tuple[Path, Path]:
    public, private = folder / "keys" / "public.pem", folder / "keys" / "private.pem"
    handles.generate_key_pair(public, private)
    return public, private


def _handmade_rows() -> pl.DataFrame:
    fixed = dict.fromkeys(["street_code", "institution_code", "institution_name"])
    rows = []
    for values in ROWS:
        row = dict.fromkeys(COLUMNS) | dict(zip(COLUMNS, values, strict=False)) | fixed
        kind, code, name = row.pop("recipient")
        period = "2023Q2" if row["period_end"] == D else "2023Q1"
        rows.append(row | dict(period=period, reason_zh=REASON_ZH[row["reason"]],
                               recipient_type=kind, recipient_code=code, recipient_name=name,
                               recipient_facility_type=None))  # fmt: skip
    return pl.DataFrame(rows, infer_schema_length=None)


@pytest.fixture
def handmade(tmp_path: Path) -> tuple[Settings, Path]:
    """A working state holding only what the export reads, and its private key."""
    public, private = _keys(tmp_path)
    warehouse = tmp_path / "warehouse"
    entry = warehouse / "cache" / "births" / "entry-1"
    entry.mkdir(parents=True)
    sealer = handles.HandleSealer(handles.load_public_key(public))
    clear = [(*k, v) for k, v in CLEAR.items()]
    sealer.add(pl.DataFrame(clear, handles.HANDLE_SCHEMA, orient="row"))
    sealer.write(entry)
    with duckdb.connect(str(warehouse / "work.duckdb")) as con:
        con.register("frame", _handmade_rows())
        con.execute(SETUP)
    env = {"YIYU_WAREHOUSE_PATH": str(warehouse / "yiyu.duckdb"), "YIYU_WORKLIST_PUBLIC_KEY":
           str(public), "YIYU_WORKLIST_PRIVATE_KEY": str(private)}  # fmt: skip
    return Settings.from_env(env), private


def _sheet(path: Path, name: str = LIST) -> list[tuple]:
    return list(openpyxl.load_workbook(path)[name].iter_rows(values_only=True))


def _cells(path: Path, name: str = LIST):
    return list(openpyxl.load_workbook(path)[name].iter_rows())


@pytest.fixture
def exported(handmade, tmp_path) -> tuple[Settings, Path, list[str]]:
    """The hand-made working state exported: its settings, the folder and the printed lines."""
    out, lines = tmp_path / "out", []
    assert run_worklists(handmade[0], out, echo=lines.append, warn=lines.append) == 0
    return handmade[0], out, lines


def test_one_file_per_recipient_sorted_with_clear_handles(exported):
    _, out, lines = exported
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        f"health_facility_{CENTRE}_新碶街道社区卫生服务中心.xlsx",
        f"institution_{NURSERY}_小蜜蜂托育园.xlsx",
        "unassigned_unassigned_未分配.xlsx",
    ]
    assert len(lines) == 3 and all(" rows -> " in line for line in lines)
    assert not any(value in line for line in lines for value in CLEAR.values())

    centre = _sheet(out / files[0])
    assert list(centre[0]) == [c.header for c in HEALTH_COLUMNS]
    assert centre[0][:4] == ("原因 (reason)", "原因名称 (reason_zh)", "号码 (handle)",
                             "号码类型 (handle_kind)")  # fmt: skip
    # Contract order of reasons, then community, birth date, handle (the twins by handle).
    assert [(r[0], r[2]) for r in centre[1:]] == [
        ("no_archive", "O330000001"),
        ("no_archive", "O330000002"),
        ("no_archive", None),
        ("behind_schedule", CLEAR[("archive_no", "k-arch")]),
    ]
    behind = dict(zip(centre[0], centre[4], strict=True))
    assert behind["建档机构代码 (handle_facility_code)"] == OTHER
    assert behind["应完成体检次数 (milestones_due)"] == 4
    assert behind["已完成体检次数 (checks_done)"] == 2
    assert behind["号码类型 (handle_kind)"] == "健康档案编号 (archive_no)"
    unassigned = _sheet(out / files[2])  # for the district to pass on: a centre's columns
    assert list(unassigned[0]) == [c.header for c in HEALTH_COLUMNS] and len(unassigned) == 2
    nursery = _sheet(out / files[1])
    assert list(nursery[0]) == [c.header for c in INSTITUTION_COLUMNS]
    assert nursery[1][2] == "00012"  # an identifier keeps its leading zeros: a text cell
    assert nursery[1][-1] == "托小班"
    notes = _sheet(out / files[0], NOTES)
    assert any(row[:2] == ("评估期", PERIOD) for row in notes)
    assert any("未查到记录，请核实" in str(cell) for row in notes for cell in row)


def test_identifiers_and_formula_like_values_are_inert_text_cells(exported):
    _, out, _ = exported
    rows = _cells(out / f"health_facility_{CENTRE}_新碶街道社区卫生服务中心.xlsx")
    headers = [c.value for c in rows[0]]
    for row in rows[1:]:
        for header in IDENTIFIER_HEADERS:
            cell = row[headers.index(header)]
            assert cell.value is None or cell.data_type == "s", header
    formula_like = [c for row in rows for c in row if str(c.value).startswith(("=", "+"))]
    assert {c.value for c in formula_like} == {CLEAR[("archive_no", "k-arch")], "+社区"}
    assert all(c.data_type == "s" for c in formula_like)  # a string, never a formula


def test_recipient_limits_the_export_and_an_unknown_one_is_refused(handmade, tmp_path):
    settings, _ = handmade
    out = tmp_path / "out"
    assert run_worklists(settings, out, NURSERY, echo=print, warn=print) == 0
    assert [p.name for p in out.iterdir()] == [f"institution_{NURSERY}_小蜜蜂托育园.xlsx"]
    lines: list[str] = []
    fresh = tmp_path / "fresh"
    assert run_worklists(settings, fresh, "F999", echo=lines.append, warn=lines.append) == 1
    valid = f"{CENTRE}, {NURSERY}, unassigned"
    assert lines == [f"no recipient 'F999' has rows in {PERIOD}; recipients: {valid}"]
    assert not fresh.exists()


def test_rows_that_disagree_with_the_backlog_are_refused(handmade, tmp_path):
    settings, _ = handmade
    with duckdb.connect(str(settings.work_db)) as con:  # as a refresh stopped between the two
        con.execute(
            "UPDATE marts.follow_up_backlog SET children = children + 1"
            " WHERE period = '2023Q2' AND recipient_code = 'unassigned'"
        )
    lines: list[str] = []
    out = tmp_path / "out"
    assert run_worklists(settings, out, echo=lines.append, warn=lines.append) == 1
    assert lines == [
        f"the worklist rows of {PERIOD} disagree with marts.follow_up_backlog for 1"
        " recipient(s) and reason(s): run yiyu refresh, then export again"
    ]
    assert not out.exists()


def test_workbooks_built_by_worker_processes_are_the_same(exported, tmp_path, monkeypatch):
    settings, serial, _ = exported
    monkeypatch.setattr(sheets, "PARALLEL_ROWS", 0)  # every export on worker processes
    parallel = tmp_path / "parallel"
    assert run_worklists(settings, parallel, echo=print, warn=print) == 0
    names = sorted(p.name for p in serial.iterdir())
    assert sorted(p.name for p in parallel.iterdir()) == names
    assert all(_sheet(serial / name) == _sheet(parallel / name) for name in names)


def _cli(settings: Settings, out: Path, private: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIYU_")}
    env.update(
        YIYU_WAREHOUSE_PATH=str(settings.warehouse_path),
        YIYU_WORKLIST_PUBLIC_KEY=str(settings.worklist_public_key),
        YIYU_WORKLIST_PRIVATE_KEY=str(private),
    )
    return subprocess.run(
        [YIYU, "worklists", "--out", str(out)], env=env, capture_output=True, text=True
    )


def test_a_busy_warehouse_is_exit_3_and_writes_nothing(handmade, tmp_path):
    from pipelines.operations.lock import writer_lock

    settings, private = handmade
    out = tmp_path / "out"
    with writer_lock(settings.warehouse_dir, "a test holding the lock"):
        result = _cli(settings, out, private)
    assert result.returncode == 3, result.stderr
    assert "a test holding the lock" in result.stderr and not out.exists()


# A real refresh of the shipped sample, then its export.
RAW = REPO_ROOT / "raw"


@dataclass(frozen=True)
class RealExport:
    root: Path
    keys: dict[str, str]
    out: Path
    lines: list[str]

    work = property(lambda self: self.root / "warehouse" / "work.duckdb")

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.work), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealExport:
    root = tmp_path_factory.mktemp("worklists_real")
    public, private = _keys(root)
    keys = {"YIYU_WORKLIST_PUBLIC_KEY": str(public), "YIYU_WORKLIST_PRIVATE_KEY": str(private)}
    refresh(root, RAW, **keys)
    out = root / "out"
    result = yiyu(root, RAW, "worklists", "--out", str(out), **keys)
    return RealExport(root, keys, out, result.stdout.splitlines())


LATEST = "SELECT max(period_end) FROM marts.indicator_values"


def _recipient_counts(real: RealExport) -> dict[tuple[str, str], dict[str, int]]:
    """Rows per recipient and reason in the latest period, counted by SQL."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for kind, code, reason, rows in real.query(
        "SELECT recipient_type, recipient_code, reason, count(*) FROM worklist.follow_up_rows"
        f" WHERE period_end = ({LATEST}) GROUP BY ALL"
    ):
        counts.setdefault((kind, code), {})[reason] = rows
    return counts


def _file_of(real: RealExport, kind: str, code: str) -> Path:
    (path,) = real.out.glob(f"{kind}_{code}_*.xlsx")
    return path


@pytest.mark.slow
def test_a_real_export_has_one_file_per_recipient_with_its_rows_sorted(real):
    counts = _recipient_counts(real)
    assert len(counts) > 3 and any(kind == "institution" for kind, _ in counts)
    assert len(list(real.out.iterdir())) == len(counts) == len(real.lines)
    order = dict(real.query("SELECT reason, reason_order FROM reference.follow_up_reasons"))
    for (kind, code), by_reason in counts.items():
        rows = _sheet(_file_of(real, kind, code))
        columns = INSTITUTION_COLUMNS if kind == "institution" else HEALTH_COLUMNS
        assert list(rows[0]) == [c.header for c in columns]
        reasons = [row[0] for row in rows[1:]]
        assert {r: reasons.count(r) for r in set(reasons)} == by_reason
        if kind == "institution":
            continue
        # Sorted by reason, community, birth date, handle (missing values last).
        keys = [
            (order[r[0]], r[7] is None, r[7] or "", r[5], r[2] is None, r[2] or "")
            for r in rows[1:]
        ]
        assert keys == sorted(keys), (kind, code)
    for header in [c.header for c in HEALTH_COLUMNS + INSTITUTION_COLUMNS]:
        assert re.fullmatch(r"[\u4e00-\u9fff][^()]* \([a-z_]+\)", header), header


@pytest.mark.slow
def test_a_decrypted_handle_is_the_raw_files_value(real):
    """A birth certificate and an archive number read from raw/ as the senders wrote them,
    hashed independently, are the handles of their children's rows."""
    for folder, column, domain, kind in [
        ("births", "birth_cert_no", "bc", "birth_cert_no"),
        ("health_archives", "archive_no", "ar", "archive_no"),
    ]:
        values = sorted(
            {
                row[column]
                for path in sorted((RAW / folder).rglob("*.csv"))
                for row in csv.DictReader(path.open(encoding="utf-8-sig", errors="replace"))
                if re.fullmatch(r"[A-Z0-9]{6,20}", row.get(column) or "")
            }
        )
        hashed = pl.DataFrame({"value": values}).with_columns(
            key=keyed_hash(pl.col("value"), domain, SECRET.encode())
        )
        rows = pl.DataFrame(
            real.query(
                "SELECT handle_key, recipient_type, recipient_code, birth_date"
                f" FROM worklist.follow_up_rows WHERE period_end = ({LATEST})"
                " AND handle_kind = ? ORDER BY row_key, reason",
                [kind],
            ),
            schema=["key", "recipient_type", "recipient_code", "birth_date"],
            orient="row",
        ).join(hashed, on="key")
        assert rows.height > 0, kind
        chosen = rows.row(0, named=True)
        sheet = _sheet(_file_of(real, chosen["recipient_type"], chosen["recipient_code"]))
        matches = [r for r in sheet[1:] if r[2] == chosen["value"]]
        assert matches and all(r[3].endswith(f"({kind})") for r in matches), kind
        assert {r[5].date() for r in matches} == {chosen["birth_date"]}


@pytest.mark.slow
def test_a_real_export_is_owner_only_text_and_logged(real):
    assert stat.S_IMODE(real.out.stat().st_mode) == 0o700
    files = list(real.out.iterdir())
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    for path in files:
        rows = _cells(path)
        headers = [c.value for c in rows[0]]
        handle = headers.index("号码 (handle)")
        assert all(r[handle].value is None or r[handle].data_type == "s" for r in rows[1:])
    with duckdb.connect(str(real.work), read_only=True) as con:
        log = con.sql("SELECT * FROM meta.worklist_exports")
        assert log.columns == list(LOG_COLUMNS)
        logged = log.select(
            "recipient_code, reason, rows, file_sha256, refresh_run_id, period_end"
        ).fetchall()
    counts = _recipient_counts(real)
    assert {(c, r, n) for c, r, n, *_ in logged} == {
        (code, reason, n) for (_, code), by in counts.items() for reason, n in by.items()
    }
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert {row[3] for row in logged} == digests
    ((run,),) = real.query("SELECT run_id FROM meta.run_settings")
    ((latest,),) = real.query(LATEST)
    assert {(row[4], row[5]) for row in logged} == {(run, latest)}
    # The log and the printed lines hold no handle: every value is a code, count or digest.
    clear = {c.value for p in files for r in _cells(p)[1:] for c in r[2:3] if c.value}
    assert not clear & {str(v) for row in logged for v in row}
    assert not any(h in line for h in clear for line in real.lines)


@pytest.mark.slow
def test_recipient_alone_and_key_refusals_on_a_real_refresh(real, tmp_path):
    ((kind, code),) = real.query(
        "SELECT recipient_type, recipient_code FROM worklist.follow_up_rows"
        f" WHERE period_end = ({LATEST}) AND recipient_type = 'health_facility'"
        " GROUP BY ALL ORDER BY count(*) DESC LIMIT 1"
    )
    one = tmp_path / "one"
    yiyu(real.root, RAW, "worklists", "--out", str(one), "--recipient", code, **real.keys)
    assert [p.name for p in one.iterdir()] == [_file_of(real, kind, code).name]
    assert _sheet(next(one.iterdir())) == _sheet(_file_of(real, kind, code))
    _, other = _keys(tmp_path / "other")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    refused = tmp_path / "refused"
    for key, out, says, code in [
        (tmp_path / "absent.pem", refused, "absent.pem does not exist", 2),
        (other, refused, "does not match", 2),
        (Path(real.keys["YIYU_WORKLIST_PRIVATE_KEY"]), a_file, "not a folder", 1),
    ]:
        keys = {**real.keys, "YIYU_WORKLIST_PRIVATE_KEY": str(key)}
        result = yiyu(real.root, RAW, "worklists", "--out", str(out), expect=code, **keys)
        assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
        assert not refused.exists() and a_file.read_text() == ""
