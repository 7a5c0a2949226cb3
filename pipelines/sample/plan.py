"""Which files each source gets, and how each looks: format, encoding, header language,
value forms.

Forms rotate over a source's files (offset by the seed), so every form of the contract
appears in every run with a handful of files, and the same seed gives the same files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pipelines.sample.calendar import month_ends

ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
DATE_FORMS = ("%Y-%m-%d", "%Y/%-m/%-d", "%Y%m%d", "%Y年%-m月%-d日", "%Y.%m.%d")
BOOL_FORMS = (("是", "否"), ("Y", "N"), ("1", "0"), ("true", "false"))
SEX_FORMS = (("男", "女"), ("1", "2"), ("M", "F"))
HEADER_MODES = ("zh", "en", "zh_alt", "mixed")
# Excel number formats of date cells (all recognised as dates by readers).
XLSX_DATE_FORMATS = ("yyyy-mm-dd", "yyyy/m/d", 'yyyy"年"m"月"d"日"')


@dataclass(frozen=True)
class Style:
    encoding: str = "utf-8"
    date_form: str = DATE_FORMS[0]
    # A second date form on some rows of the same file (exports stitched together).
    alt_date_form: str | None = None
    bool_form: tuple[str, str] = BOOL_FORMS[0]
    sex_form: tuple[str, str] = SEX_FORMS[0]
    enum_labels: bool = True
    header_mode: str = "zh"
    # Units in brackets, full-width letters, odd case and padding on some headers.
    header_noise: bool = False
    # Share of cells with full-width digits/letters, and with surrounding spaces.
    fullwidth_share: float = 0.0
    padding_share: float = 0.0
    lower_x: bool = False
    crlf: bool = False
    xlsx_date_format: str = XLSX_DATE_FORMATS[0]


@dataclass(frozen=True)
class Delivery:
    """One file of a source: `path` is relative to the source folder."""

    path: str
    style: Style = field(default_factory=Style)
    omit: tuple[str, ...] = ()
    # Set on the one file that lacks a required column and is rejected whole.
    drop_required: str | None = None

    @property
    def fmt(self) -> str:
        return self.path.rsplit(".", 1)[1]


def style_for(index: int, offset: int, fmt: str) -> Style:
    """The index-th file's style; forms cycle with different periods so they mix."""
    i = index + offset
    noisy = fmt == "csv" and i % 3 != 0
    return Style(
        encoding=ENCODINGS[i % 3] if fmt == "csv" else "utf-8",
        date_form=DATE_FORMS[i % 5],
        alt_date_form=DATE_FORMS[(i + 2) % 5] if noisy and i % 2 else None,
        bool_form=BOOL_FORMS[i % 4],
        sex_form=SEX_FORMS[i % 3],
        enum_labels=i % 4 != 1,
        header_mode=HEADER_MODES[i % 4],
        header_noise=i % 2 == 0,
        fullwidth_share=0.04 if noisy else 0.0,
        padding_share=0.05 if noisy else 0.0,
        lower_x=i % 2 == 1,
        crlf=ENCODINGS[i % 3] == "gb18030",
        xlsx_date_format=XLSX_DATE_FORMATS[i % 3],
    )


def deliveries(paths: list[str], offset: int, omit: dict[int, tuple[str, ...]] | None = None):
    """Deliveries for `paths` with rotating styles; `omit` maps a file index to absent columns."""
    omit = omit or {}
    return [
        Delivery(path, style_for(i, offset, path.rsplit(".", 1)[1]), omit.get(i, ()))
        for i, path in enumerate(paths)
    ]


QUARTERS = [f"{y}Q{q}" for y in range(2019, 2024) for q in range(1, 5)][3:]
ARCHIVE_MONTHS = month_ends(date(2023, 1, 1), date(2023, 12, 31))
PILOT_MONTHS = month_ends(date(2022, 10, 1), date(2023, 12, 31))
HISTORY_YEARS = (2019, 2020, 2021, 2022)
REJECTED_MONTH = "2023-03"


def assert_ordered(paths: list[str]) -> None:
    """Supersession follows lexical path order: the plan's order must be that order."""
    if sorted(paths) != paths:
        raise AssertionError(f"delivery paths out of lexical order: {paths}")


# `xlsx` below is the extension of the files planned as XLSX ("csv" for a large run).


def births_plan(seed: int, xlsx: str) -> list[Delivery]:
    def ext(i):
        return "parquet" if i == 7 else xlsx if i % 6 == 2 else "csv"

    paths = [f"{q[:4]}/births_{q}.{ext(i)}" for i, q in enumerate(QUARTERS)]
    assert_ordered(paths)
    return deliveries(paths, offset=seed % 5, omit={5: ("community_code",)})


def archives_plan(seed: int, xlsx: str) -> list[Delivery]:
    def ext(i, ym):
        return "parquet" if ym == "2023-07" else xlsx if i % 5 == 3 else "csv"

    paths = ["2022-12-31_全量/health_archives_full.csv"] + [
        f"{ym}/archives_{ym}.{ext(i, ym)}" for i, (ym, _end) in enumerate(ARCHIVE_MONTHS)
    ]
    assert_ordered(paths)
    return deliveries(paths, offset=seed % 7, omit={2: ("family_doctor_signed_on",)})


def checks_plan(seed: int, xlsx: str) -> list[Delivery]:
    def ext(i):
        return xlsx if i % 4 == 1 else "csv"

    history = [f"2022-09_history/checks_{y}.parquet" for y in HISTORY_YEARS]
    monthly = [f"{ym}/checks_{ym}.{ext(i)}" for i, (ym, _end) in enumerate(PILOT_MONTHS)]
    assert_ordered(history + monthly)
    late = [
        f"{REJECTED_MONTH}/checks_{REJECTED_MONTH}_补报.csv",
        f"{REJECTED_MONTH}/checks_{REJECTED_MONTH}_补报_重发.csv",
    ]
    plan = deliveries(
        history + monthly + late,
        offset=seed % 3,
        omit={6: ("hemoglobin_g_l",), 9: ("child_name",), 13: ("birth_cert_no",)},
    )
    plan[-2] = Delivery(plan[-2].path, plan[-2].style, drop_required="check_date")
    return plan


def enrollments_plan(seed: int, xlsx: str) -> list[Delivery]:
    def ext(i):
        return xlsx if i % 4 == 2 else "csv"

    paths = ["2022-09_在册/enrollments_2022-09-30.csv"] + [
        f"{ym}/enrollments_{ym}.{ext(i)}" for i, (ym, _end) in enumerate(PILOT_MONTHS)
    ]
    assert_ordered(paths)
    return deliveries(
        paths, offset=seed % 4, omit={3: ("monthly_fee_yuan",), 5: ("birth_cert_no",)}
    )
