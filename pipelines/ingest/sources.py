"""The input layer: every raw source of the data contract (section 2), declared once.

Ingestion, the sample generator, the expectation suites and the docs all read these
declarations, so a column, alias or code list is changed in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Aliases hold for a column name in every source (contract section 2).
ALIASES: dict[str, tuple[str, ...]] = {
    "street_code": ("街道代码", "所属街道代码"),
    "street_name": ("街道名称",),
    "community_code": ("社区代码", "村社区代码", "现住址社区代码", "所在社区代码"),
    "community_name": ("社区名称", "村社区名称"),
    "facility_code": ("机构代码", "建档机构代码", "检查机构代码"),
    "facility_name": ("机构名称",),
    "facility_type": ("机构类型",),
    "three_in_one_since": ("三位一体认定日期",),
    "birth_cert_no": ("出生医学证明编号",),
    "id_number": ("身份证号", "公民身份号码"),
    "child_name": ("姓名", "儿童姓名"),
    "sex": ("性别",),
    "birth_date": ("出生日期",),
    "archive_no": ("档案编号",),
    "archive_date": ("建档日期",),
    "family_doctor_signed_on": ("家庭医生签约日期",),
    "closed_on": ("结案日期", "停办日期"),
    "close_reason": ("结案原因",),
    "check_no": ("体检编号", "检查记录号"),
    "check_date": ("检查日期", "体检日期"),
    "height_cm": ("身长", "身高"),
    "weight_kg": ("体重",),
    "hemoglobin_g_l": ("血红蛋白",),
    "enrollment_no": ("入托编号",),
    "institution_code": ("统一社会信用代码", "机构代码"),
    "class_type": ("班级类型",),
    "enroll_date": ("入托日期", "入园日期"),
    "leave_date": ("离园日期", "离托日期"),
    "monthly_fee_yuan": ("月保教费",),
    "institution_name": ("机构名称",),
    "institution_type": ("机构类型",),
    "slots": ("核定托位数", "托位数"),
    "is_affordable": ("是否普惠",),
    "affordable_since": ("普惠认定日期",),
    "filed_on": ("备案日期", "开办日期"),
    "provincial_standard_on": ("省级标准验收日期",),
    "demonstration_level": ("示范等级",),
    "role": ("岗位",),
    "hired_on": ("入职日期",),
    "left_on": ("离职日期",),
    "certificate": ("资格证书", "证书名称"),
    "certified_on": ("取证日期",),
    "survey_no": ("调查编号",),
    "survey_date": ("调查日期",),
    "passed": ("是否知晓", "是否达标"),
}

# Code lists: accepted label or English code -> stored code.
FACILITY_TYPES = {
    "maternal_child_hospital": ("妇幼保健院",),
    "community_health_center": ("社区卫生服务中心", "卫生院"),
    "other": ("其他",),
}
CLOSE_REASONS = {"moved_out": ("迁出",), "died": ("死亡",), "other": ("其他",)}
CLASS_TYPES = {
    "infant": ("乳儿班",),
    "toddler_small": ("托小班",),
    "toddler_large": ("托大班",),
    "toddler": ("托班",),
    "k_small": ("小班",),
    "k_middle": ("中班",),
    "k_large": ("大班",),
}
INSTITUTION_TYPES = {
    "nursery": ("托育机构",),
    "kindergarten_class": ("幼儿园托班",),
    "integrated": ("托幼一体",),
    "care_station": ("婴幼儿照护驿站",),
    "family_daycare": ("家庭托育点",),
    "employer": ("用人单位托育",),
}
DEMONSTRATION_LEVELS = {
    "national": ("国家级",),
    "provincial": ("省级",),
    "municipal": ("市级",),
    "district": ("区级",),
}
STAFF_ROLES = {
    "caregiver": ("保育人员", "保育员"),
    "health": ("保健人员", "保健员"),
    "teacher": ("教师",),
    "manager": ("管理人员",),
    "other": ("其他",),
}

# Physiological ranges (contract section 2): value outside -> quarantine `out_of_range`.
RANGES = {
    "height_cm": (30.0, 150.0),
    "weight_kg": (0.5, 60.0),
    "hemoglobin_g_l": (30.0, 250.0),
    "slots": (0, None),
    "monthly_fee_yuan": (0, None),
}


@dataclass(frozen=True)
class Column:
    """One column of a source. `kind` decides parsing and storage:

    text, code (reference code, kept clear), date, bool, sex, int, float, enum,
    id_number / identifier / name (personal: hashed before anything is written).
    """

    name: str
    kind: str
    required: bool = False
    codes: dict[str, tuple[str, ...]] | None = None

    @property
    def aliases(self) -> tuple[str, ...]:
        return ALIASES.get(self.name, ())


@dataclass(frozen=True)
class Source:
    name: str
    label_zh: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # Child-level sources are linked into the child index (contract section 3).
    child_level: bool = False
    person_level: bool = False
    # Its rows are about persons (contract section 7): no message ever quotes a value of one.
    personal_rows: bool = False
    date_columns_after_birth: tuple[str, ...] = field(default=())
    # How often a delivery is expected; longer without one raises a freshness warning.
    expected_every_days: int = 7
    # An optional register (contract section 8): never delivering it is no freshness warning.
    optional: bool = False

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _c(name: str, kind: str, required: bool = False, codes=None) -> Column:
    return Column(name, kind, required, codes)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "divisions",
            "行政区划",
            (
                _c("street_code", "code", True),
                _c("street_name", "text", True),
                _c("community_code", "code", True),
                _c("community_name", "text", True),
            ),
            key=("community_code",),
            expected_every_days=365,
        ),
        Source(
            "health_facilities",
            "医疗卫生机构",
            (
                _c("facility_code", "code", True),
                _c("facility_name", "text", True),
                _c("facility_type", "enum", True, FACILITY_TYPES),
                _c("street_code", "code", True),
                _c("three_in_one_since", "date"),
            ),
            key=("facility_code",),
            expected_every_days=92,
        ),
        Source(
            "births",
            "出生登记",
            (
                _c("birth_cert_no", "identifier", True),
                _c("id_number", "id_number"),
                _c("child_name", "name", True),
                _c("sex", "sex", True),
                _c("birth_date", "date", True),
                _c("community_code", "code"),
            ),
            key=("birth_cert_no",),
            child_level=True,
            person_level=True,
            personal_rows=True,
        ),
        Source(
            "health_archives",
            "儿童健康档案",
            (
                _c("archive_no", "identifier", True),
                _c("id_number", "id_number"),
                _c("birth_cert_no", "identifier"),
                _c("child_name", "name", True),
                _c("sex", "sex", True),
                _c("birth_date", "date", True),
                _c("community_code", "code"),
                _c("facility_code", "code", True),
                _c("archive_date", "date", True),
                _c("family_doctor_signed_on", "date"),
                _c("closed_on", "date"),
                _c("close_reason", "enum", False, CLOSE_REASONS),
            ),
            key=("archive_no",),
            child_level=True,
            person_level=True,
            personal_rows=True,
            date_columns_after_birth=(
                "archive_date",
                "family_doctor_signed_on",
                "closed_on",
            ),
        ),
        Source(
            "health_checks",
            "儿童健康检查",
            (
                _c("check_no", "identifier", True),
                _c("archive_no", "identifier"),
                _c("id_number", "id_number"),
                _c("birth_cert_no", "identifier"),
                _c("child_name", "name"),
                _c("sex", "sex", True),
                _c("birth_date", "date", True),
                _c("facility_code", "code", True),
                _c("check_date", "date", True),
                _c("height_cm", "float"),
                _c("weight_kg", "float"),
                _c("hemoglobin_g_l", "float"),
            ),
            key=("check_no",),
            child_level=True,
            person_level=True,
            personal_rows=True,
            date_columns_after_birth=("check_date",),
        ),
        Source(
            "enrollments",
            "入托入园",
            (
                _c("enrollment_no", "identifier", True),
                _c("id_number", "id_number"),
                _c("birth_cert_no", "identifier"),
                _c("child_name", "name", True),
                _c("sex", "sex", True),
                _c("birth_date", "date", True),
                _c("institution_code", "code", True),
                _c("class_type", "enum", True, CLASS_TYPES),
                _c("enroll_date", "date", True),
                _c("leave_date", "date"),
                _c("monthly_fee_yuan", "float"),
            ),
            key=("enrollment_no",),
            child_level=True,
            person_level=True,
            personal_rows=True,
            date_columns_after_birth=("enroll_date", "leave_date"),
        ),
        Source(
            "institutions",
            "托育机构名录",
            (
                _c("institution_code", "code", True),
                _c("institution_name", "text", True),
                _c("institution_type", "enum", True, INSTITUTION_TYPES),
                _c("street_code", "code", True),
                _c("community_code", "code", True),
                _c("slots", "int", True),
                _c("is_affordable", "bool", True),
                _c("affordable_since", "date"),
                _c("filed_on", "date", True),
                _c("closed_on", "date"),
                _c("provincial_standard_on", "date"),
                _c("demonstration_level", "enum", False, DEMONSTRATION_LEVELS),
            ),
            key=("institution_code",),
            expected_every_days=31,
        ),
        Source(
            "staff",
            "从业人员",
            (
                _c("id_number", "id_number", True),
                _c("institution_code", "code", True),
                _c("role", "enum", True, STAFF_ROLES),
                _c("hired_on", "date", True),
                _c("left_on", "date"),
                _c("certificate", "text"),
                _c("certified_on", "date"),
            ),
            key=("id_number", "institution_code", "hired_on"),
            expected_every_days=31,
            person_level=True,
            personal_rows=True,
        ),
        Source(
            "parenting_surveys",
            "科学育儿知识知晓调查",
            (
                _c("survey_no", "code", True),
                _c("community_code", "code", True),
                _c("survey_date", "date", True),
                _c("passed", "bool", True),
            ),
            key=("survey_no",),
            expected_every_days=92,
            personal_rows=True,
        ),
        Source(
            "catchments",
            "服务辖区",
            (
                _c("facility_code", "code", True),
                _c("community_code", "code", True),
            ),
            key=("facility_code", "community_code"),
            expected_every_days=365,
            optional=True,
        ),
    )
}
