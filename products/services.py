"""Institutions and products: the products package's public API. Services flush, never commit."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.events import record_event
from core.outbox import add_job
from core.reference import (
    BORROWER_KINDS,
    CITY_CODE,
    COLLATERAL_KINDS,
    INSTITUTION_KINDS,
    PRODUCT_TAGS,
    REGIONS,
    industry_section,
)
from core.types import money, utcnow
from products.errors import InstitutionNotFoundError, ProductNotFoundError, ProductStateError
from products.models import Institution, Product, ProductStatus

MAX_AMOUNT = Decimal("100000000.00")
MAX_TERM_MONTHS = 360
MAX_RATE = Decimal("36.00")


@dataclass
class ProductInput:
    """The editable fields of a product; every field already has the right Python type."""

    name: str
    min_amount: Decimal
    max_amount: Decimal
    min_term_months: int
    max_term_months: int
    rate_min: Decimal
    rate_max: Decimal
    collateral: list[str]
    borrower_kinds: list[str]
    region_codes: list[str] = field(default_factory=list)
    industries_excluded: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    min_score: int | None = None
    sla_hours: int = 8
    follow_up_hours: int = 24
    description: str = ""


PRODUCT_FIELDS = tuple(ProductInput.__dataclass_fields__)


def create_institution(session: Session, *, code: str, name: str, kind: str) -> Institution:
    """Register a lending institution. Raises InvalidInputError (code taken, unknown kind)."""
    errors: dict[str, list[str]] = {}
    if kind not in INSTITUTION_KINDS:
        errors["kind"] = ["unknown"]
    if session.scalar(select(Institution.id).where(Institution.code == code)) is not None:
        errors["code"] = ["taken"]
    if errors:
        raise InvalidInputError(errors)
    institution = Institution(code=code, name=name, kind=kind)
    session.add(institution)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise InvalidInputError({"code": ["taken"]}) from exc
    return institution


def get_institution_by_code(session: Session, code: str) -> Institution:
    """Raises InstitutionNotFoundError."""
    institution = session.scalar(select(Institution).where(Institution.code == code))
    if institution is None:
        raise InstitutionNotFoundError(code)
    return institution


def list_institutions(session: Session) -> Sequence[Institution]:
    return session.scalars(select(Institution).order_by(Institution.code)).all()


def institution_names(session: Session) -> list[tuple[str, str]]:
    """Every institution as (code, name), in `list_institutions`' order: a filter's options (the 金融超市
    asks on every request), read without loading the institutions, by a statement built once, through
    the session's connection (as `product_names`)."""
    return [(code, name) for code, name in session.connection().execute(_institution_names_statement())]


@functools.cache
def _institution_names_statement() -> Select[str, str]:
    return select(Institution.code, Institution.name).order_by(Institution.code)


@dataclass(frozen=True)
class InstitutionOption:
    id: int
    code: str
    name: str


def active_institutions(session: Session, kind: str) -> list[InstitutionOption]:
    """The active institutions of one kind (bank, guarantor), by name: a form's choices."""
    stmt = (
        select(Institution.id, Institution.code, Institution.name)
        .where(Institution.kind == kind, Institution.active.is_(True))
        .order_by(Institution.name)
    )
    return [InstitutionOption(row.id, row.code, row.name) for row in session.execute(stmt)]


def institution_code(session: Session, institution_id: int) -> str | None:
    return session.scalar(select(Institution.code).where(Institution.id == institution_id))


def institution_names_by_id(session: Session) -> dict[int, str]:
    return {row.id: row.name for row in session.execute(select(Institution.id, Institution.name))}


def _check_codes(values: Iterable[str], allowed: Iterable[str]) -> bool:
    allowed_set = set(allowed)
    return all(v in allowed_set for v in values)


def validate_product(data: ProductInput) -> dict[str, list[str]]:
    """Business rules of a product, as field -> error codes (empty when valid)."""
    errors: dict[str, list[str]] = {}

    def add(name: str, code: str) -> None:
        errors.setdefault(name, []).append(code)

    if not data.name.strip():
        add("name", "required")
    for name in ("min_amount", "max_amount"):
        value = getattr(data, name)
        if value <= 0 or value > MAX_AMOUNT:
            add(name, "out_of_range")
    if data.min_amount > data.max_amount:
        add("max_amount", "less_than_min")
    for name in ("min_term_months", "max_term_months"):
        if not 1 <= getattr(data, name) <= MAX_TERM_MONTHS:
            add(name, "out_of_range")
    if data.min_term_months > data.max_term_months:
        add("max_term_months", "less_than_min")
    for name in ("rate_min", "rate_max"):
        if not Decimal(0) < getattr(data, name) <= MAX_RATE:
            add(name, "out_of_range")
    if data.rate_min > data.rate_max:
        add("rate_max", "less_than_min")
    if not data.collateral or not _check_codes(data.collateral, COLLATERAL_KINDS):
        add("collateral", "invalid_choice")
    if not data.borrower_kinds or not _check_codes(data.borrower_kinds, BORROWER_KINDS):
        add("borrower_kinds", "invalid_choice")
    if not _check_codes(data.region_codes, [*REGIONS, CITY_CODE]):
        add("region_codes", "invalid_choice")
    if not _check_codes(data.tags, PRODUCT_TAGS):
        add("tags", "invalid_choice")
    if any(industry_section(code) is None for code in data.industries_excluded):
        add("industries_excluded", "invalid_choice")
    if data.min_score is not None and not 300 <= data.min_score <= 900:
        add("min_score", "out_of_range")
    if not 1 <= data.sla_hours <= 240:
        add("sla_hours", "out_of_range")
    if not 1 <= data.follow_up_hours <= 240:
        add("follow_up_hours", "out_of_range")
    return errors


def _apply(product: Product, data: ProductInput) -> None:
    product.name = data.name.strip()
    product.description = data.description.strip()
    product.min_amount = money(data.min_amount)
    product.max_amount = money(data.max_amount)
    product.min_term_months = data.min_term_months
    product.max_term_months = data.max_term_months
    product.rate_min = money(data.rate_min)
    product.rate_max = money(data.rate_max)
    product.collateral = sorted(set(data.collateral))
    product.borrower_kinds = sorted(set(data.borrower_kinds))
    product.region_codes = sorted(set(data.region_codes))
    product.industries_excluded = sorted(set(data.industries_excluded))
    product.tags = sorted(set(data.tags))
    product.min_score = data.min_score
    product.sla_hours = data.sla_hours
    product.follow_up_hours = data.follow_up_hours
    product.updated_at = utcnow()


def create_product(
    session: Session, *, institution_id: int, data: ProductInput, actor_id: int | None
) -> Product:
    """A new draft product of this institution. Raises InvalidInputError."""
    errors = validate_product(data)
    if errors:
        raise InvalidInputError(errors)
    product = Product(institution_id=institution_id, status=ProductStatus.DRAFT)
    _apply(product, data)
    session.add(product)
    session.flush()
    record_event(
        session, entity_type="product", entity_id=product.id, to_status=ProductStatus.DRAFT, actor_id=actor_id
    )
    return product


def get_product(session: Session, product_id: int, *, institution_id: int | None = None) -> Product:
    """The product; with institution_id, only that institution's. Raises ProductNotFoundError."""
    product = session.get(Product, product_id)
    if product is None or (institution_id is not None and product.institution_id != institution_id):
        raise ProductNotFoundError(str(product_id))
    return product


def product_input_from(product: Product, **changes: Any) -> ProductInput:
    """The product's current fields with some replaced: the basis of a partial update."""
    current = {name: getattr(product, name) for name in PRODUCT_FIELDS}
    current.update(changes)
    return ProductInput(**current)


# Written to the outbox whenever the shelf changes; the matching package runs it (re-matching open needs,
# which may now fit a product or have lost one). The name predates this package's ownership of it and is
# kept for the rows earlier releases wrote.
CATALOGUE_CHANGED_JOB = "rematch_open_needs"


def announce_catalogue_change(session: Session, product: Product, *, reason: str) -> None:
    """Queue the re-matching of open needs after `product` was published, changed or retired.

    The product's `updated_at` makes the outbox key one per change.
    """
    stamp = product.updated_at.strftime("%Y%m%d%H%M%S%f")
    add_job(
        session,
        CATALOGUE_CHANGED_JOB,
        f"{CATALOGUE_CHANGED_JOB}:{product.id}:{reason}:{stamp}",
        product_id=product.id,
    )


def update_product(
    session: Session, product: Product, data: ProductInput, *, actor_id: int | None
) -> Product:
    """Change a draft or published product; a published one's change is announced for re-matching.

    Raises InvalidInputError, ProductStateError (retired).
    """
    if product.status == ProductStatus.RETIRED:
        raise ProductStateError("retired")
    errors = validate_product(data)
    if errors:
        raise InvalidInputError(errors)
    _apply(product, data)
    session.flush()
    record_event(
        session,
        entity_type="product",
        entity_id=product.id,
        from_status=product.status,
        to_status=product.status,
        actor_id=actor_id,
        note="updated",
    )
    if product.status == ProductStatus.PUBLISHED:
        announce_catalogue_change(session, product, reason="changed")
    return product


def _move(
    session: Session, product: Product, to: ProductStatus, allowed: set[str], actor_id: int | None
) -> Product:
    if product.status not in allowed:
        raise ProductStateError(product.status)
    previous = product.status
    product.status = to
    product.updated_at = utcnow()
    if to == ProductStatus.PUBLISHED:
        product.published_at = product.updated_at
    session.flush()
    record_event(
        session,
        entity_type="product",
        entity_id=product.id,
        from_status=previous,
        to_status=to,
        actor_id=actor_id,
    )
    announce_catalogue_change(session, product, reason=STEP_REASONS[to])
    return product


STEP_REASONS = {
    ProductStatus.PUBLISHED: "published",
    ProductStatus.RETIRED: "retired",
    ProductStatus.PAUSED: "paused",
}


def pause_product(session: Session, product: Product, *, actor_id: int | None) -> Product:
    """Take a published product off the shelf for a while: no new needs are pushed to it and the
    supermarket no longer shows it; leads already pushed stay with the institution.

    Raises ProductStateError unless it is published.
    """
    return _move(session, product, ProductStatus.PAUSED, {ProductStatus.PUBLISHED}, actor_id)


def resume_product(session: Session, product: Product, *, actor_id: int | None) -> Product:
    """Put a paused product back on the shelf and announce it for re-matching.

    Raises ProductStateError unless it is paused.
    """
    return _move(session, product, ProductStatus.PUBLISHED, {ProductStatus.PAUSED}, actor_id)


COPY_SUFFIX = "（副本）"


def copy_product(session: Session, product: Product, *, actor_id: int | None) -> Product:
    """A new draft of the same institution with the product's rules, named "…（副本）"."""
    name = product.name[: 128 - len(COPY_SUFFIX)] + COPY_SUFFIX
    return create_product(
        session,
        institution_id=product.institution_id,
        data=product_input_from(product, name=name),
        actor_id=actor_id,
    )


def publish_product(session: Session, product: Product, *, actor_id: int | None) -> Product:
    """Put a draft on the supermarket shelf and announce it for re-matching.

    Raises ProductStateError unless it is a draft.
    """
    return _move(session, product, ProductStatus.PUBLISHED, {ProductStatus.DRAFT}, actor_id)


def retire_product(session: Session, product: Product, *, actor_id: int | None) -> Product:
    """Take a product off the shelf for good and announce it for re-matching.

    Raises ProductStateError if already retired.
    """
    return _move(
        session,
        product,
        ProductStatus.RETIRED,
        {ProductStatus.DRAFT, ProductStatus.PUBLISHED, ProductStatus.PAUSED},
        actor_id,
    )


@dataclass(frozen=True)
class ProductFilter:
    region_code: str | None = None
    borrower_kind: str | None = None
    amount: Decimal | None = None
    tag: str | None = None
    institution: str | None = None
    collateral: str | None = None
    # Words in the product's name, description or institution's name (every word must appear).
    keyword: str | None = None
    # "rate": lowest rate first; "amount": highest ceiling first; otherwise by id.
    sort: str | None = None


PRODUCT_SORTS = ("rate", "amount")


def products_statement(
    flt: ProductFilter, *, status: str | None = ProductStatus.PUBLISHED, institution_id: int | None = None
) -> Select[Product]:
    """The one statement `list_products` runs: the products (with their institution) that the filter's
    column conditions select; the list-valued rules are applied to its rows. Public so that the bench's
    floor (portal/floors.py) runs exactly the catalogue's statement."""
    stmt = select(Product).join(Product.institution).order_by(Product.id)
    if status is not None:
        stmt = stmt.where(Product.status == status)
    if status == ProductStatus.PUBLISHED:  # a deactivated institution's products leave the catalogue
        stmt = stmt.where(Institution.active.is_(True))
    if institution_id is not None:
        stmt = stmt.where(Product.institution_id == institution_id)
    if flt.institution:
        stmt = stmt.where(Institution.code == flt.institution)
    if flt.amount is not None:
        stmt = stmt.where(Product.min_amount <= flt.amount, Product.max_amount >= flt.amount)
    return stmt


def list_products(
    session: Session,
    flt: ProductFilter,
    *,
    status: str | None = ProductStatus.PUBLISHED,
    institution_id: int | None = None,
) -> list[Product]:
    """Products matching the filter, published ones by default, in a stable order."""
    rows = session.scalars(products_statement(flt, status=status, institution_id=institution_id)).all()
    # List-valued rules are JSON; they are filtered here so that SQLite and PostgreSQL agree.
    result = []
    for product in rows:
        if (
            flt.region_code
            and product.region_codes
            and not (flt.region_code in product.region_codes or CITY_CODE in product.region_codes)
        ):
            continue
        if flt.borrower_kind and flt.borrower_kind not in product.borrower_kinds:
            continue
        if flt.tag and flt.tag not in product.tags:
            continue
        if flt.collateral and flt.collateral not in product.collateral:
            continue
        if flt.keyword:
            haystack = f"{product.name} {product.description} {product.institution.name}".casefold()
            if not all(word in haystack for word in flt.keyword.casefold().split()):
                continue
        result.append(product)
    if flt.sort == "rate":
        result.sort(key=lambda p: (p.rate_min, p.id))
    elif flt.sort == "amount":
        result.sort(key=lambda p: (-p.max_amount, p.id))
    return result


def product_names(session: Session, institution_id: int) -> list[tuple[int, str]]:
    """The institution's products of any status as (id, name), in `list_products`' order: the options of
    a filter by product, read without loading the products (through the session's connection: the
    Session's own execute prepares for ORM results, a third of this read's CPU on every inbox page)."""
    rows = session.connection().execute(_product_names_statement(), {"institution_id": institution_id})
    return [(id_, name) for id_, name in rows]


@functools.cache
def _product_names_statement() -> Select[int, str]:
    """Built once, the institution bound at execution: building it (with its cache key) costs more than
    running it."""
    stmt = select(Product.id, Product.name).where(Product.institution_id == bindparam("institution_id"))
    return stmt.order_by(Product.id)


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from a string or number, or None."""
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None
