"""Demo data for Ji'an: institutions, products, borrowers with 24 months of synthetic data, needs and
leads in every status, and an account for every role. Everything here is synthetic (合成数据).

Idempotent: each object is looked up by its natural key first; the demo needs are created only on the
first run, so running it again keeps whatever users did since.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts import create_user
from core.calendars import WorkCalendar, working_calendar
from core.errors import ConflictError
from core.identifiers import id_check_char, uscc_check_char
from core.models import Role, StatusEvent, User
from core.reference import REASON_CODES, REGIONS
from core.types import SHANGHAI, utcnow
from credit_profile.borrowers import BorrowerInput, register_borrower
from credit_profile.consents import grant_consent
from credit_profile.models import Borrower, DataRecord
from credit_profile.scoring import compute_score
from guarantees.demo import seed_guarantees
from matching.dispatch import match_need
from matching.leads import claim_lead, report_performance, transition_lead
from matching.loans import LoanInput
from matching.models import Lead, LeadStatus, Loan, Need
from matching.needs import NeedInput, RenewalInput, submit_need, withdraw_need
from matching.sweeps import expire_overdue_leads
from matching.workhours import DAY_END, DAY_START, add_working_hours
from monitoring.demo import seed_monitoring
from products.models import Institution, Product
from products.services import ProductInput, create_institution, create_product, publish_product

DEMO_PASSWORD = "Jihuitong@2026"  # noqa: S105 - the documented demo password of synthetic accounts
SYNTHETIC_NOTE = "（合成演示数据）"

INSTITUTIONS = [
    ("ICBC_JA", "中国工商银行吉安分行", "bank"),
    ("ABC_JA", "中国农业银行吉安分行", "bank"),
    ("CCB_JA", "中国建设银行吉安分行", "bank"),
    ("PSBC_JA", "中国邮政储蓄银行吉安市分行", "bank"),
    ("JJB_JA", "九江银行吉安分行", "bank"),
    ("JARCB", "江西吉安农村商业银行", "bank"),
    ("JGSRCB", "江西井冈山农村商业银行", "bank"),
    ("JZVB", "吉安吉州珠江村镇银行", "bank"),
    ("JAGUAR", "吉安市融资担保集团有限公司", "guarantor"),
]

# (institution, name, min, max, term_min, term_max, rate_min, rate_max, collateral, kinds, regions, tags, min_score, sla)
ALL = ["enterprise", "individual_business", "farmer"]
BIZ = ["enterprise", "individual_business"]
PRODUCTS: list[tuple[Any, ...]] = [
    ("ICBC_JA", "经营快贷", 10_000, 2_000_000, 1, 12, "3.45", "4.35", ["credit"], BIZ, [], ["first_loan", "credit"], 620, 8),
    ("ICBC_JA", "税务贷", 50_000, 3_000_000, 6, 36, "3.55", "4.50", ["credit"], ["enterprise"], [], ["credit", "tech"], 650, 8),
    ("ICBC_JA", "无还本续贷·工银", 100_000, 10_000_000, 12, 36, "3.60", "4.80", ["mortgage", "guarantee"], BIZ, [], ["renewal"], None, 16),
    ("ICBC_JA", "科创贷", 500_000, 10_000_000, 12, 60, "3.30", "4.20", ["credit", "pledge"], ["enterprise"], [], ["tech"], 680, 16),
    ("ABC_JA", "惠农e贷", 10_000, 500_000, 6, 36, "3.85", "5.20", ["credit", "guarantee"], ["farmer", "individual_business"], [], ["agri", "first_loan"], None, 8),
    ("ABC_JA", "富民贷（井冈蜜柚）", 20_000, 300_000, 12, 36, "3.95", "5.40", ["guarantee"], ["farmer"], ["360881", "360827", "360826"], ["agri"], None, 16),
    ("ABC_JA", "链捷贷", 100_000, 5_000_000, 3, 12, "3.70", "4.80", ["pledge", "credit"], ["enterprise"], [], ["credit"], 640, 8),
    ("ABC_JA", "续贷通", 50_000, 5_000_000, 12, 36, "3.80", "5.00", ["mortgage", "guarantee", "credit"], BIZ, [], ["renewal"], None, 16),
    ("CCB_JA", "云税贷", 10_000, 3_000_000, 1, 12, "3.50", "4.50", ["credit"], BIZ, [], ["credit", "first_loan"], 600, 8),
    ("CCB_JA", "抵押快贷", 100_000, 10_000_000, 12, 120, "3.40", "4.30", ["mortgage"], BIZ, [], [], None, 24),
    ("CCB_JA", "善营贷", 50_000, 5_000_000, 12, 36, "3.60", "4.60", ["credit", "mortgage"], BIZ, [], ["renewal"], 620, 16),
    ("CCB_JA", "裕农快贷", 10_000, 300_000, 6, 24, "3.90", "5.50", ["credit"], ["farmer"], [], ["agri", "credit"], 560, 8),
    ("PSBC_JA", "小微易贷", 10_000, 1_000_000, 1, 12, "3.70", "5.00", ["credit"], BIZ, [], ["credit", "first_loan"], 600, 8),
    ("PSBC_JA", "极速贷（农户）", 10_000, 200_000, 6, 36, "4.20", "6.00", ["credit", "guarantee"], ["farmer"], [], ["agri", "first_loan"], None, 8),
    ("PSBC_JA", "商户贷", 10_000, 500_000, 6, 36, "4.00", "5.80", ["credit"], ["individual_business"], [], ["first_loan"], 580, 8),
    ("JJB_JA", "九银税e贷", 50_000, 3_000_000, 6, 24, "3.85", "5.50", ["credit"], ["enterprise"], [], ["credit"], 620, 8),
    ("JJB_JA", "科技成长贷", 300_000, 10_000_000, 12, 36, "3.65", "5.00", ["pledge", "guarantee"], ["enterprise"], [], ["tech"], None, 16),
    ("JJB_JA", "循环续贷", 100_000, 8_000_000, 12, 36, "4.00", "5.60", ["mortgage", "guarantee"], BIZ, [], ["renewal"], None, 16),
    ("JARCB", "吉农快贷", 10_000, 500_000, 6, 36, "4.35", "6.50", ["credit", "guarantee"], ALL, ["360802", "360803", "360821"], ["first_loan", "agri"], None, 8),
    ("JARCB", "振兴贷", 50_000, 2_000_000, 12, 36, "4.50", "6.80", ["guarantee", "mortgage"], ALL, ["360802", "360803", "360821", "360822"], ["agri"], None, 16),
    ("JARCB", "续贷易", 50_000, 3_000_000, 12, 36, "4.60", "6.50", ["guarantee", "mortgage", "credit"], BIZ, ["360802", "360803", "360821"], ["renewal"], None, 16),
    ("JARCB", "个体户信用贷", 10_000, 300_000, 6, 24, "4.80", "7.20", ["credit"], ["individual_business"], [], ["credit", "first_loan"], 560, 8),
    ("JGSRCB", "红色旅游贷", 30_000, 1_000_000, 12, 36, "4.50", "6.80", ["credit", "guarantee"], BIZ, ["360881", "360830", "360826"], ["first_loan"], None, 8),
    ("JGSRCB", "茶农贷", 10_000, 300_000, 12, 36, "4.60", "7.00", ["guarantee", "credit"], ["farmer"], ["360881", "360827", "360828"], ["agri"], None, 16),
    ("JGSRCB", "林权抵押贷", 50_000, 2_000_000, 12, 60, "4.80", "7.00", ["mortgage"], ALL, ["360881", "360827", "360829", "360830"], ["agri"], None, 24),
    ("JZVB", "村镇小额贷", 10_000, 300_000, 6, 24, "5.20", "7.80", ["credit", "guarantee"], ALL, ["360802"], ["first_loan", "agri"], None, 8),
    ("JZVB", "商圈贷", 20_000, 500_000, 6, 24, "5.00", "7.50", ["credit"], ["individual_business"], ["360802", "360803"], ["credit"], 560, 8),
    ("JAGUAR", "政银担·首贷担保", 100_000, 5_000_000, 12, 36, "3.80", "4.80", ["guarantee"], BIZ, [], ["first_loan"], None, 24),
    ("JAGUAR", "续贷过桥担保", 100_000, 10_000_000, 3, 12, "4.00", "5.00", ["guarantee"], BIZ, [], ["renewal"], None, 16),
    ("JAGUAR", "农业信贷担保", 50_000, 3_000_000, 12, 36, "3.90", "4.90", ["guarantee"], ["farmer", "enterprise"], [], ["agri"], None, 24),
    ("CCB_JA", "绿色节能贷", 200_000, 10_000_000, 12, 60, "3.20", "4.10", ["mortgage", "pledge"], ["enterprise"], [], ["green", "tech"], 650, 24),
    ("PSBC_JA", "产业链贷", 100_000, 3_000_000, 6, 24, "3.90", "5.20", ["pledge", "guarantee"], ["enterprise"], [], [], None, 16),
]  # fmt: skip

ENTERPRISE_NAMES = [
    "井冈山绿源食品", "吉州区赣西电子", "泰和县乌鸡养殖", "遂川县狗牯脑茶业", "万安县硒都农业", "安福县火腿加工",
    "永新县盆景园艺", "吉水县井冈竹业", "峡江县米粉加工", "新干县箱包制造", "永丰县蔬菜冷链", "青原区精密模具",
    "吉安县光电科技", "井冈山红色文旅", "吉州区智能装备", "泰和县电子元件", "遂川县金桔合作社", "万安县鱼苗繁育",
    "安福县纺织", "永新县运输服务", "吉水县新材料", "峡江县物流", "新干县灯具", "青原区软件服务",
]  # fmt: skip
SHOP_NAMES = [
    "文山路张记米粉店", "人民广场李氏服装", "青原区王家五金", "泰和县刘记农资", "永丰县陈氏汽修", "遂川县周记茶叶店",
    "安福县赵氏超市", "万安县孙记餐馆", "吉安县钱记建材", "新干县吴氏箱包店", "井冈山市郑记民宿", "吉水县冯记药店",
    "峡江县蒋记水产", "永新县沈记家电",
]  # fmt: skip
FARMER_NAMES = [
    "刘建华", "王秀英", "张国强", "李桂兰", "陈志明", "杨春生", "赵金凤", "黄德福", "周玉梅", "吴长根", "徐海平", "孙冬英",
]  # fmt: skip
INDUSTRIES = ["C13", "C39", "A03", "A01", "A04", "C13", "A01", "C20", "C13", "C19", "G59", "C35", "C39", "R88",
              "C34", "C39", "A01", "A04", "C17", "G54", "C30", "G59", "C38", "I65"]  # fmt: skip
SHOP_INDUSTRIES = [
    "H62",
    "F52",
    "F52",
    "F51",
    "O81",
    "F52",
    "F52",
    "H62",
    "F52",
    "F52",
    "H61",
    "F52",
    "F52",
    "F52",
]


# A name that says where the business is (县、区、市 or a street of the city centre) is filed under that
# county; the others keep the county they are given.
COUNTY_OF_NAME = {
    "吉州区": "360802", "文山路": "360802", "人民广场": "360802", "青原区": "360803", "吉安县": "360821",
    "吉水县": "360822", "峡江县": "360823", "新干县": "360824", "永丰县": "360825", "泰和县": "360826",
    "遂川县": "360827", "万安县": "360828", "安福县": "360829", "永新县": "360830", "井冈山": "360881",
}  # fmt: skip


def county_of(name: str, default: str) -> str:
    """The county a demo name places its business in, else `default`."""
    return next((code for prefix, code in COUNTY_OF_NAME.items() if name.startswith(prefix)), default)


def _uscc(kind_digit: str, region: str, n: int) -> str:
    first17 = f"9{kind_digit}{region}{'MA'}{n:07d}"[:17]
    return first17 + uscc_check_char(first17)


def _id_number(region: str, n: int, rng: random.Random) -> str:
    born = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(0, 12000))
    first17 = f"{region}{born:%Y%m%d}{n % 1000:03d}"
    return first17 + id_check_char(first17)


def _periods(months: int) -> list[str]:
    today = utcnow().astimezone(SHANGHAI).date()
    year, month = today.year, today.month
    result = []
    for _ in range(months):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        result.append(f"{year:04d}-{month:02d}")
    return list(reversed(result))


def _money(value: float) -> Decimal:
    return Decimal(str(round(max(value, 0.0), 2)))


def _records(borrower: Borrower, health: float, rng: random.Random) -> list[DataRecord]:
    """24 months per source: seasonal electricity, sales tracking it, bank flows around sales."""
    rows: list[DataRecord] = []
    periods = _periods(24)
    scale = {"enterprise": 30_000.0, "individual_business": 3_000.0, "farmer": 800.0}[borrower.kind]
    trend = (health - 0.5) * 0.04
    rating = (
        "A"
        if health > 0.75
        else "B"
        if health > 0.5
        else "M"
        if health > 0.35
        else "C"
        if health > 0.2
        else "D"
    )
    for i, period in enumerate(periods):
        season = 1 + 0.15 * ((int(period[5:]) in (7, 8, 1)) - (int(period[5:]) in (2, 10)))
        level = scale * (1 + trend) ** i * season * rng.uniform(0.9, 1.1)
        if health < 0.2 and i > 16:
            level *= 0.5
        kwh = _money(level)
        rows.append(
            DataRecord(
                borrower_id=borrower.id,
                source="electricity",
                period=period,
                kwh=kwh,
                bill_amount=_money(level * 0.68),
            )
        )
        sales = level * 12 * rng.uniform(0.85, 1.15)
        if borrower.kind != "farmer":
            rows.append(
                DataRecord(
                    borrower_id=borrower.id, source="tax", period=period, sales=_money(sales),
                    tax_paid=_money(sales * 0.03), credit_rating=rating, arrears=health < 0.2 and i % 7 == 0,
                )
            )  # fmt: skip
        inflow = sales * rng.uniform(0.9, 1.1)
        outflow = inflow * rng.uniform(0.85, 1.05 + (0.2 if health < 0.3 else 0))
        rows.append(
            DataRecord(
                borrower_id=borrower.id, source="bank_flow", period=period, inflow=_money(inflow),
                outflow=_money(outflow), end_balance=_money(inflow * rng.uniform(0.1, 0.6)),
            )
        )  # fmt: skip
    return rows


def _user(session: Session, username: str, **kwargs: Any) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = create_user(session, username=username, password=DEMO_PASSWORD, **kwargs)
    return user


def seed(session: Session) -> dict[str, int]:
    """Load the demo data; returns how many of each kind exist afterwards."""
    rng = random.Random(20261122)  # noqa: S311 - synthetic demo data, not security
    institutions: dict[str, Institution] = {}
    for code, name, kind in INSTITUTIONS:
        inst = session.scalar(select(Institution).where(Institution.code == code))
        institutions[code] = inst or create_institution(session, code=code, name=name, kind=kind)

    _user(session, "admin", role=Role.ADMIN)
    _user(session, "finance_city", role=Role.FINANCE, region_code="360800")
    _user(session, "finance_jizhou", role=Role.FINANCE, region_code="360802")
    _user(session, "finance_jinggangshan", role=Role.FINANCE, region_code="360881")
    officers: dict[str, list[User]] = {}
    for code, inst in institutions.items():
        slug = code.lower()
        officers[code] = [
            _user(
                session,
                f"{slug}_officer{i}",
                role=Role.OFFICER,
                institution_id=inst.id,
                phone=f"1390796{i:04d}",
            )
            for i in (1, 2)
        ]
        _user(session, f"{slug}_pm", role=Role.PRODUCT_MANAGER, institution_id=inst.id)

    for row in PRODUCTS:
        code, name, lo, hi, tmin, tmax, rmin, rmax, collateral, kinds, regions, tags, min_score, sla = row
        inst = institutions[code]
        if session.scalar(select(Product.id).where(Product.institution_id == inst.id, Product.name == name)):
            continue
        product = create_product(
            session,
            institution_id=inst.id,
            actor_id=None,
            data=ProductInput(
                name=name,
                description=f"{inst.name}{name}{SYNTHETIC_NOTE}",
                min_amount=Decimal(lo),
                max_amount=Decimal(hi),
                min_term_months=tmin,
                max_term_months=tmax,
                rate_min=Decimal(rmin),
                rate_max=Decimal(rmax),
                collateral=collateral,
                borrower_kinds=kinds,
                region_codes=regions,
                industries_excluded=["K"] if "credit" in collateral else [],
                tags=tags,
                min_score=min_score,
                sla_hours=sla,
            ),
        )
        publish_product(session, product, actor_id=None)

    regions = list(REGIONS)
    borrowers: list[tuple[Borrower, User]] = []
    specs: list[tuple[str, str, str, str]] = []
    for i, name in enumerate(ENTERPRISE_NAMES):
        specs.append(
            ("enterprise", f"{name}有限公司", INDUSTRIES[i], county_of(name, regions[i % len(regions)]))
        )
    for i, name in enumerate(SHOP_NAMES):
        region = county_of(name, regions[(i + 3) % len(regions)])
        specs.append(("individual_business", name, SHOP_INDUSTRIES[i], region))
    for i, name in enumerate(FARMER_NAMES):
        specs.append(("farmer", f"{name}（农户）", "A01", regions[(i + 5) % len(regions)]))
    for n, (kind, name, industry, region) in enumerate(specs, start=1):
        username = (
            "demo_enterprise"
            if n == 1
            else "demo_shop"
            if n == 25
            else "demo_farmer"
            if n == 39
            else f"borrower{n:02d}"
        )
        existing = session.scalar(select(User).where(User.username == username))
        if existing is not None and existing.borrower_id is not None:
            borrower = session.get(Borrower, existing.borrower_id)
            assert borrower is not None
            borrowers.append((borrower, existing))
            continue
        borrower = register_borrower(
            session,
            BorrowerInput(
                kind=kind,
                name=name + SYNTHETIC_NOTE,
                region_code=region,
                industry_code=industry,
                uscc=_uscc("2" if kind == "individual_business" else "1", region, n)
                if kind != "farmer"
                else None,
                id_number=_id_number(region, n, rng) if kind == "farmer" else None,
                established_on=dt.date(2010 + n % 14, 1 + n % 12, 1),
                employees=rng.randint(3, 180) if kind == "enterprise" else rng.randint(1, 8),
            ),
            synthetic=True,
        )
        user = create_user(
            session, username=username, password=DEMO_PASSWORD, role=Role.APPLICANT,
            phone=f"1357960{n:04d}", borrower_id=borrower.id,
        )  # fmt: skip
        sources = ["electricity", "bank_flow"] if kind == "farmer" else ["electricity", "tax", "bank_flow"]
        consent = grant_consent(
            session, borrower_id=borrower.id, sources=sources, purpose="融资需求匹配与授信参考",
            expires_on=utcnow().astimezone(SHANGHAI).date() + dt.timedelta(days=365), actor_id=user.id,
        )  # fmt: skip
        health = rng.random() if n not in (1, 25, 39) else 0.8
        for record in _records(borrower, health, rng):
            record.consent_id = consent.id
            session.add(record)
        session.flush()
        compute_score(session, borrower.id)
        borrowers.append((borrower, user))

    if not session.scalar(select(func.count()).select_from(Need)):
        _demo_needs(session, borrowers, officers, rng)
    guarantee_counts = seed_guarantees(session, password=DEMO_PASSWORD)
    seed_monitoring(session)  # post-loan monitoring: its own synthetic loans (monitoring.demo)

    return {
        "机构": session.scalar(select(func.count()).select_from(Institution)) or 0,
        "产品": session.scalar(select(func.count()).select_from(Product)) or 0,
        "借款主体": session.scalar(select(func.count()).select_from(Borrower)) or 0,
        "融资需求": session.scalar(select(func.count()).select_from(Need)) or 0,
        "线索": session.scalar(select(func.count()).select_from(Lead)) or 0,
        "贷款": session.scalar(select(func.count()).select_from(Loan)) or 0,
        **guarantee_counts,
    }


def _officer_for(session: Session, lead: Lead, officers: dict[str, list[User]]) -> User:
    inst = session.get(Institution, lead.institution_id)
    assert inst is not None
    return officers[inst.code][0]


# The demo's loan book: most needs end in a loan, the rest in every other outcome; one rejection for each
# reason code a bank can give, and some loans later reported overdue.
OPEN_OUTCOMES = ("approved", "contacted", "claimed", "pushed", "pushed", "unmatched")
CLOSED_OUTCOMES = ("withdrawn", "expired")
OVERDUE_SHARE = (0.08, 0.03)  # of the loans: reported 30 days past due, and of those 90 days past due


def _plan(borrowers: list[tuple[Borrower, User]]) -> list[tuple[str, int]]:
    """(outcome, index of the borrower) for every demo need: every kind of borrower gets loans (the
    farmers' in the planting seasons), rejections with every reason code, and every open state."""
    by_kind: dict[str, list[int]] = {}
    for i, (borrower, _user) in enumerate(borrowers):
        by_kind.setdefault(borrower.kind, []).append(i)
    plan: list[tuple[str, int]] = []
    outcomes = (
        ["disbursed"] * 34 + [f"rejected:{code}" for code in REASON_CODES] + list(OPEN_OUTCOMES) * 2
        + list(CLOSED_OUTCOMES) * 2
    )  # fmt: skip
    kinds = ["enterprise", "individual_business", "farmer"]
    for turn, outcome in enumerate(outcomes):
        pool = by_kind[kinds[turn % len(kinds)]]
        plan.append((outcome, pool[(turn // len(kinds)) % len(pool)]))
    return plan


def _target_day(kind: str, rng: random.Random, today: dt.date) -> dt.date:
    """When a demo loan was disbursed: farmers' in spring planting (March-April) or autumn (September-
    October); others' over two years, busier before the Spring Festival and at the half-year."""
    while True:
        # At least a month back: the steps after the start, days apart, must all lie in the past.
        day = today - dt.timedelta(days=rng.randint(30, 700))
        month = day.month
        if kind == "farmer":
            # Started early in the month: its few working days of steps end in the same season.
            if month in (3, 4, 9, 10) and day.day <= 10:
                return day
        elif month in (1, 6, 11, 12) or rng.random() < 0.6:
            return day


def _demo_needs(
    session: Session,
    borrowers: list[tuple[Borrower, User]],
    officers: dict[str, list[User]],
    rng: random.Random,
) -> None:
    """Needs in every status over the last two years (see `_plan`), each step at a plausible working
    time (`_spread`)."""
    today = utcnow().astimezone(SHANGHAI).date()
    calendar = working_calendar(session)
    for i, (outcome, who) in enumerate(_plan(borrowers)):
        borrower, user = borrowers[who]
        outcome, _sep, reason_code = outcome.partition(":")
        renewal = outcome == "disbursed" and i % 5 == 0
        amount = Decimal(
            {"enterprise": 800_000, "individual_business": 150_000, "farmer": 80_000}[borrower.kind]
        )
        amount = (amount * Decimal(rng.choice(["0.5", "1", "1.5", "2"]))).quantize(Decimal("1"))
        if outcome == "unmatched":
            amount = Decimal("60000000")
        purposes = (["春耕购买化肥种苗", "秋收烘干设备", "扩大养殖规模"] if borrower.kind == "farmer"
                    else ["采购原材料", "购置设备", "补充流动资金", "扩大门店经营"])  # fmt: skip
        try:
            need = submit_need(
                session,
                borrower_id=borrower.id,
                actor_id=user.id,
                data=NeedInput(
                    amount=amount,
                    term_months=12 if borrower.kind != "enterprise" else 24,
                    purpose=rng.choice(purposes) + SYNTHETIC_NOTE,
                    collateral="mortgage" if renewal else rng.choice(["credit", "credit", "guarantee"]),
                    declared_prior_loan=renewal or i % 3 == 0,
                    renewal=RenewalInput(current_amount=amount, matures_on=today + dt.timedelta(days=20))
                    if renewal
                    else None,
                ),
            )
        except ConflictError:
            continue  # the same open need twice, or a fourth open one: a real applicant is refused too
        leads = match_need(session, need.id, top_n=3)
        if outcome in ("unmatched", "pushed") or not leads:
            continue
        if outcome == "withdrawn":
            withdraw_need(session, need, actor_id=user.id)
            _backdate(session, need, days=rng.randint(1, 200))
            continue
        if outcome == "expired":
            for lead in leads:
                lead.sla_due_at = utcnow() - dt.timedelta(hours=1)
            session.flush()
            expire_overdue_leads(session, top_n=3)
            _backdate(session, need, days=rng.randint(1, 200))
            continue
        lead = leads[0]
        officer = _officer_for(session, lead, officers)
        inst_id = lead.institution_id
        claim_lead(session, lead.id, officer_id=officer.id, institution_id=inst_id)
        if outcome == "rejected":
            for other in leads[1:]:
                other_officer = _officer_for(session, other, officers)
                claim_lead(
                    session, other.id, officer_id=other_officer.id, institution_id=other.institution_id
                )
                transition_lead(
                    session, other.id, to="rejected", officer_id=other_officer.id,
                    institution_id=other.institution_id, reason_code=reason_code,
                )  # fmt: skip
            transition_lead(session, lead.id, to="contacted", officer_id=officer.id, institution_id=inst_id)
            transition_lead(
                session, lead.id, to="rejected", officer_id=officer.id, institution_id=inst_id,
                reason_code=reason_code,
            )  # fmt: skip
        steps = {"claimed": [], "contacted": ["contacted"], "approved": ["contacted", "approved"],
                 "disbursed": ["contacted", "approved", "disbursed"]}.get(outcome, [])  # fmt: skip
        for step in steps:
            loan = None
            if step == "disbursed":
                loan = LoanInput(
                    amount=need.amount, rate=Decimal(rng.choice(["3.45", "3.85", "4.20", "4.65", "5.10"])),
                    term_months=need.term_months, collateral=need.collateral, disbursed_on=today,
                    first_loan_borrower=not need.declared_prior_loan, renewal_without_repayment=renewal,
                )  # fmt: skip
            transition_lead(
                session, lead.id, to=step, officer_id=officer.id, institution_id=inst_id, loan=loan
            )
        if outcome in ("claimed", "contacted", "approved"):
            # Still with a bank: pushed hours ago, or the first SLA / stale sweep would move it on.
            _push_earlier(session, need, hours=rng.uniform(0.5, 30))
            continue
        days = (today - _target_day(borrower.kind, rng, today)).days if outcome == "disbursed" else 0
        _spread(session, need, lead, rng, calendar, days=days or rng.randint(30, 300))
        if outcome == "disbursed":
            _report_overdue(session, lead, officer, rng)


def _working_time(
    start: dt.datetime, rng: random.Random, calendar: WorkCalendar, *, min_days: int, max_days: int
) -> dt.datetime:
    """A moment in working hours (DAY_START-DAY_END, Asia/Shanghai) on a working day `min_days`..`max_days` working days after
    `start` (the same day allowed when `min_days` is 0 and time remains)."""
    local = start.astimezone(SHANGHAI)
    day, left = local.date(), rng.randint(min_days, max_days)
    while left > 0 or not calendar.is_working_day(day):
        day += dt.timedelta(days=1)
        left -= calendar.is_working_day(day)
    earliest = dt.datetime.combine(day, DAY_START, SHANGHAI)
    if day == local.date():
        earliest = max(earliest, local + dt.timedelta(minutes=20))
    latest = dt.datetime.combine(day, DAY_END, SHANGHAI)
    if earliest >= latest:
        return _working_time(start, rng, calendar, min_days=max(min_days, 1), max_days=max(max_days, 1))
    return earliest + (latest - earliest) * rng.random()


# Working days between steps: claim, first contact, decision, disbursement.
STEP_GAPS = {"contacted": (0, 2), "approved": (2, 6), "rejected": (1, 5), "disbursed": (1, 4)}


def _spread(
    session: Session, need: Need, lead: Lead, rng: random.Random, calendar: WorkCalendar, *, days: int
) -> None:
    """Give a finished demo need a believable history `days` days back: submitted and pushed on a
    working morning or afternoon, claimed within working hours, each later step a few working days
    after the previous one, the loan dated on its disbursement day. The step times copied onto the
    lead and the need (contacted_at, approved_at, decided_at) follow the events."""
    start = _working_time(utcnow() - dt.timedelta(days=days), rng, calendar, min_days=0, max_days=0)
    stmt = select(StatusEvent).where(StatusEvent.need_id == need.id).order_by(StatusEvent.id)
    events = session.scalars(stmt).all()
    latest: dict[int, dt.datetime] = {}  # lead id -> time of its latest step so far
    last = start
    for event in events:
        status, lead_id = event.to_status, event.entity_id
        if event.entity_type != "lead":
            event.at = start if status in ("submitted", "matched", "unmatched") else last
        elif status == "pushed":
            event.at = latest[lead_id] = start
        elif status == "claimed":
            # Claimed within the working hours after the push (the main lead first).
            hours = rng.uniform(0.5, 6) if lead_id == lead.id else rng.uniform(4, 20)
            event.at = latest[lead_id] = add_working_hours(start, max(1, round(hours)), calendar=calendar)
        elif status in STEP_GAPS:
            low, high = STEP_GAPS[status]
            event.at = latest[lead_id] = _working_time(
                latest[lead_id], rng, calendar, min_days=low, max_days=high
            )
        else:
            event.at = latest.get(lead_id, last)
        last = max(last, event.at)
    need.submitted_at, need.updated_at = start, last
    for row in session.scalars(select(Lead).where(Lead.need_id == need.id)):
        own = [e for e in events if e.entity_type == "lead" and e.entity_id == row.id]
        row.pushed_at = start
        row.updated_at = latest.get(row.id, start)
        product = session.get(Product, row.product_id)
        assert product is not None
        row.sla_due_at = add_working_hours(start, product.sla_hours, calendar=calendar)
        row.claimed_at = next((e.at for e in own if e.to_status == "claimed"), None)
        row.contacted_at = next((e.at for e in own if e.to_status == "contacted"), None)
        row.approved_at = next((e.at for e in own if e.to_status == "approved"), None)
        row.decided_at = next((e.at for e in own if e.to_status in ("approved", "rejected")), None)
    need.contacted_at = min(
        (e.at for e in events if e.entity_type == "lead" and e.to_status == "contacted"), default=None
    )
    need.approved_at = min(
        (e.at for e in events if e.entity_type == "lead" and e.to_status == "approved"), default=None
    )
    disbursed = next((e.at for e in events if e.entity_type == "lead" and e.to_status == "disbursed"), last)
    for loan in session.scalars(select(Loan).where(Loan.need_id == need.id)):
        loan.disbursed_on = disbursed.astimezone(SHANGHAI).date()
        loan.created_at = disbursed
    session.flush()


def _report_overdue(session: Session, lead: Lead, officer: User, rng: random.Random) -> None:
    """Some demo loans are reported overdue by their bank, a month or more after disbursement."""
    late_30 = rng.random() < OVERDUE_SHARE[0]
    if not late_30:
        return
    loan = session.scalar(select(Loan).where(Loan.lead_id == lead.id))
    assert loan is not None
    as_of = min(
        loan.disbursed_on + dt.timedelta(days=rng.randint(60, 200)), utcnow().astimezone(SHANGHAI).date()
    )
    if as_of <= loan.disbursed_on:
        return
    report_performance(
        session, lead.id, officer_id=officer.id, institution_id=lead.institution_id, as_of=as_of,
        overdue_30=True, overdue_90=rng.random() < OVERDUE_SHARE[1] / OVERDUE_SHARE[0],
    )  # fmt: skip


def _push_earlier(session: Session, need: Need, *, hours: float) -> None:
    """Move a demo need's submission and push earlier, leaving the claim and later steps where they are."""
    delta = dt.timedelta(hours=hours)
    need.submitted_at -= delta
    for lead in session.scalars(select(Lead).where(Lead.need_id == need.id)):
        lead.pushed_at -= delta
        if lead.sla_due_at:
            # In working hours from the earlier push, as dispatch computes it (never 20:45 on a Monday).
            product = session.get(Product, lead.product_id)
            assert product is not None
            lead.sla_due_at = add_working_hours(
                lead.pushed_at, product.sla_hours, calendar=working_calendar(session)
            )
    early = ("submitted", "matched", "pushed")
    for event in session.scalars(
        select(StatusEvent).where(StatusEvent.need_id == need.id, StatusEvent.to_status.in_(early))
    ):
        event.at -= delta
    session.flush()


def _backdate(session: Session, need: Need, *, days: int) -> None:
    """Shift a demo need's whole history into the past, keeping every interval as it was."""
    if days == 0:
        return
    delta = dt.timedelta(days=days)
    need.submitted_at -= delta
    need.updated_at -= delta
    for lead in session.scalars(select(Lead).where(Lead.need_id == need.id)):
        lead.pushed_at -= delta
        lead.updated_at -= delta
        if lead.claimed_at:
            lead.claimed_at -= delta
        if lead.sla_due_at and lead.status != LeadStatus.PUSHED:
            lead.sla_due_at -= delta
    # In Python, not SQL: SQLite has no date arithmetic (`date - interval` there yields a number).
    for loan in session.scalars(select(Loan).where(Loan.need_id == need.id)):
        loan.disbursed_on -= delta
    for event in session.scalars(select(StatusEvent).where(StatusEvent.need_id == need.id)):
        event.at -= delta
    session.flush()
