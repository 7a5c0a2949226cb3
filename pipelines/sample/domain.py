"""Reference facts of the synthetic Beilun district: streets, communities, facilities, names.

These are fixtures of the generator, not of the warehouse: the warehouse learns them only
from the files the generator writes (divisions, health_facilities).
"""

from __future__ import annotations

from datetime import date

DISTRICT = "330206"

# Street code suffix, name, number of communities, share of the district's children.
STREETS: tuple[tuple[str, str, int, float], ...] = (
    ("001", "新碶街道", 15, 0.24),
    ("002", "小港街道", 10, 0.12),
    ("003", "大碶街道", 14, 0.18),
    ("004", "霞浦街道", 8, 0.08),
    ("005", "柴桥街道", 12, 0.11),
    ("006", "戚家山街道", 5, 0.06),
    ("007", "春晓街道", 6, 0.07),
    ("008", "梅山街道", 5, 0.06),
    ("009", "白峰街道", 7, 0.08),
)

COMMUNITY_STEMS = [
    "大港",
    "新大",
    "明州",
    "岷山",
    "松花江",
    "富春江",
    "嵩山",
    "庐山",
    "太河",
    "高塘",
    "华山",
    "泰山",
    "长江",
    "黄山",
    "星阳",
    "红联",
    "渡头",
    "枫林",
    "东岗",
    "小港",
    "江南",
    "纬五",
    "衙前",
    "陈山",
    "五星",
    "青峙",
    "高河",
    "璎珞",
    "沙溪",
    "邬隘",
    "九峰",
    "横河",
    "坝头",
    "下洋",
    "新路",
    "灵岩",
    "共同",
    "大碶",
    "庙前",
    "王家",
    "里洞",
    "林唐",
    "芦江",
    "霞南",
    "霞浦",
    "合兴",
    "新峰",
    "新文",
    "长山",
    "昆亭",
    "柴桥",
    "紫石",
    "穿山",
    "河头",
    "后所",
    "沙湾",
    "勤山",
    "戚家山",
    "蔚斗",
    "联合",
    "望海",
    "春晓",
    "三山",
    "慈岙",
    "东海",
    "昆仑",
    "洋沙山",
    "梅山",
    "梅东",
    "梅西",
    "七星",
    "对峙",
    "白峰",
    "阳东",
    "上阳",
    "下阳",
    "小门",
    "郭巨",
    "峙南",
    "峙北",
    "白沙",
    "金沙",
    "港城",
    "太平",
    "长春",
    "联丰",
    "民主",
    "永丰",
    "同心",
    "三联",
    "凤凰",
]

# Facilities: one maternal-child hospital, one community centre per street, one other.
MCH_HOSPITAL = ("330206H001", "北仑区妇幼保健院", "maternal_child_hospital", "001")
OTHER_HOSPITAL = ("330206H002", "北仑区人民医院", "other", "003")
THREE_IN_ONE = {
    "330206H001": date(2023, 9, 20),
    "330206H011": date(2023, 3, 15),
    "330206H013": date(2023, 6, 1),
}
# Facilities named 卫生院 in their own export (a label of community_health_center).
TOWNSHIP_HOSPITAL_STREETS = ("007", "008", "009")

# Resident-ID region prefixes. An ID's region must have existed in the holder's birth
# year (GB/T 2260 history), so children born 2019-2023 get current codes, and adults
# get codes unchanged since before 1960, or Beilun's own (created 1987) when born later.
CHILD_REGIONS = (
    330206, 330203, 330205, 330211, 330212, 330213, 330225, 330226, 330281, 330282, 330102,
    330106, 330302, 330402, 330502, 330602, 330702, 330782, 331002, 341122, 360124, 410526,
    411323, 420117, 500235, 510722, 511621, 530381, 450881,
)  # fmt: skip
ADULT_REGIONS = (
    330122, 330127, 340121, 340421, 340621, 350121, 360121, 422822, 430121, 430321, 510121,
    510321, 522323, 522622, 433122,
)  # fmt: skip
BEILUN_SINCE = 1987
# Community codes of neighbouring districts (children living outside Beilun).
OUTSIDE_COMMUNITIES = (
    "330203001002",
    "330203004011",
    "330211002005",
    "330212005003",
    "330212101204",
    "330206099001",
)
UNKNOWN_FACILITY = "330206H099"

SURNAMES = (
    *(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
        "于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金贺傅邬应虞竺俞孔毛"
    ),
    "欧阳",
    "诸葛",
)

GIVEN_CHARS = tuple(
    "子梓浩宇轩涵欣怡一诺依晨睿博文雨思佳嘉俊泽瑞安宸可馨乐悦铭航皓若语萱彤琪雅静奕辰"
    "沐霖昊然逸凡煜锦程天明阳妍茜颖婷露蕊晗珂朵禾米洛希景言哲远杰昕玥瑶芷澄兮熙柠"
)

# CJK Extension A (and one GB18030 two-byte) characters that GBK cannot encode.
RARE_CHARS = tuple("㛃䶮㵘䲜㻞䒟㙟㼆")

DEMONSTRATION_SHARE = {"national": 0.01, "provincial": 0.04, "municipal": 0.08, "district": 0.1}
# Qualifying certificates (contract section 2) a holder of each role typically has.
ROLE_CERTIFICATES = {
    "manager": ("教师资格证", "保育师", "幼儿园教师资格证"),
    "health": ("保健员", "保健医师"),
    "caregiver": ("保育员", "保育师", "育婴员", "育婴师"),
    "teacher": ("教师资格证", "幼儿园教师资格证"),
    "other": ("保育员",),
}
HEALTH_CERTIFICATE = "健康证"  # held by many, qualifies nobody


def community_codes() -> list[tuple[str, str, str, str]]:
    """(street_code, street_name, community_code, community_name) for every community."""
    rows, stem = [], 0
    for suffix, street, count, _share in STREETS:
        for i in range(1, count + 1):
            name = COMMUNITY_STEMS[stem]
            # Rural streets call their communities 村; the rest are 社区.
            kind = "村" if suffix in ("005", "007", "009") and i % 2 == 0 else "社区"
            rows.append((DISTRICT + suffix, street, f"{DISTRICT}{suffix}{i:03d}", name + kind))
            stem += 1
    return rows


def facilities() -> list[tuple[str, str, str, str]]:
    """(facility_code, facility_name, facility_type, street_code); H011.. serve streets 1..9."""
    rows = [
        (MCH_HOSPITAL[0], MCH_HOSPITAL[1], MCH_HOSPITAL[2], DISTRICT + MCH_HOSPITAL[3]),
        (OTHER_HOSPITAL[0], OTHER_HOSPITAL[1], OTHER_HOSPITAL[2], DISTRICT + OTHER_HOSPITAL[3]),
    ]
    for n, (suffix, street, _count, _share) in enumerate(STREETS, start=11):
        label = "卫生院" if suffix in TOWNSHIP_HOSPITAL_STREETS else "社区卫生服务中心"
        rows.append(
            (
                f"{DISTRICT}H{n:03d}",
                f"北仑区{street}{label}",
                "community_health_center",
                DISTRICT + suffix,
            )
        )
    return rows
