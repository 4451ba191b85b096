"""guarantees.schemes: which loans a public scheme stands behind (what post-loan monitoring names)."""

from __future__ import annotations

from guarantees.models import CoverStatus
from guarantees.schemes import loan_schemes
from tests.factories import CoverFactory, LoanFactory, SchemeFactory


def test_loan_schemes_names_the_scheme_of_covers_in_force_only(session) -> None:
    scheme = SchemeFactory(name="吉庐陵融资担保 4321 批量担保")
    active = CoverFactory(scheme=scheme)
    defaulted = CoverFactory(scheme=scheme, status=CoverStatus.DEFAULTED)
    released = CoverFactory(scheme=scheme, status=CoverStatus.RELEASED)
    bare = LoanFactory()

    found = loan_schemes(session, [active.loan_id, defaulted.loan_id, released.loan_id, bare.id])

    assert found == {active.loan_id: scheme.name, defaulted.loan_id: scheme.name}
    assert loan_schemes(session, []) == {}


def test_the_portal_connects_monitoring_to_the_schemes(settings, session_factory, monkeypatch) -> None:
    from monitoring import figures
    from portal.app import create_app

    monkeypatch.setattr(figures, "_lookup", [])
    assert not figures.schemes_connected()
    create_app(settings, session_factory)
    assert figures._lookup == [loan_schemes]
