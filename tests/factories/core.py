"""People and the status events (audit trail) of needs and leads."""

from __future__ import annotations

import factory

from core.models import Role, StatusEvent, User
from core.types import utcnow
from tests.factories.base import PASSWORD_HASH, Base


class UserFactory(Base):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    password_hash = PASSWORD_HASH
    role = Role.APPLICANT.value
    phone = "13800000000"

    class Params:
        officer = factory.Trait(role=Role.OFFICER.value)
        product_manager = factory.Trait(role=Role.PRODUCT_MANAGER.value)
        finance = factory.Trait(role=Role.FINANCE.value, region_code="360800")
        admin = factory.Trait(role=Role.ADMIN.value)


class StatusEventFactory(Base):
    """A status change as the services record it; pass ``lead=`` (or ``need=``) for its entity.

    Inserting a lead's event sets the first-step times of the lead and its need (a database trigger).
    """

    class Meta:
        model = StatusEvent

    class Params:
        lead = None
        need = None

    entity_type = factory.LazyAttribute(lambda o: "lead" if o.lead is not None else "need")
    entity_id = factory.LazyAttribute(lambda o: (o.lead or o.need).id)
    need_id = factory.LazyAttribute(lambda o: o.lead.need_id if o.lead is not None else o.need.id)
    to_status = "submitted"
    at = factory.LazyFunction(utcnow)
