"""factory_boy factories with traits, one module per domain package (as warehouse's tests/common/db/).

They write through the same constraints and triggers as the services; the test's session is bound by the
`session` fixture (`bind_factories`), a committed world binds its own.
"""

from tests.factories.base import PASSWORD, bind_factories, make_id_number, make_uscc
from tests.factories.core import StatusEventFactory, UserFactory
from tests.factories.credit_profile import (
    BorrowerFactory,
    ConsentFactory,
    CreditScoreFactory,
    DataRecordFactory,
)
from tests.factories.guarantees import CoverFactory, SchemeFactory
from tests.factories.matching import LeadFactory, LoanFactory, LoanPerformanceFactory, NeedFactory
from tests.factories.monitoring import EarlyWarningFactory
from tests.factories.products import InstitutionFactory, ProductFactory
from tests.factories.stats import ReportFactory

__all__ = [
    "PASSWORD",
    "BorrowerFactory",
    "ConsentFactory",
    "CoverFactory",
    "CreditScoreFactory",
    "DataRecordFactory",
    "EarlyWarningFactory",
    "InstitutionFactory",
    "LeadFactory",
    "LoanFactory",
    "LoanPerformanceFactory",
    "NeedFactory",
    "ProductFactory",
    "ReportFactory",
    "SchemeFactory",
    "StatusEventFactory",
    "UserFactory",
    "bind_factories",
    "make_id_number",
    "make_uscc",
]
