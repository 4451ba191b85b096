"""Bank officers: inbox, anonymised preview, claim, identity after claim, every step to disbursement."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.models import User
from core.types import local_today
from credit_profile.models import ConsentUse, CreditScore
from matching.dispatch import match_need
from matching.models import Lead, Loan, Need
from matching.needs import NeedInput, submit_need
from tests.factories import ConsentFactory, InstitutionFactory, ProductFactory, UserFactory
from tests.portal.test_web_support import applicant, login, text


@pytest.fixture
def lead(session):
    """A need by a named enterprise, matched to one bank's product: the lead that bank's officers see."""
    institution = InstitutionFactory(name="吉安农商银行")
    ProductFactory(institution=institution, name="蜜柚贷", published=True)
    user, borrower = applicant(session, name="吉安市井冈蜜柚合作社有限公司", employees=8)
    need = submit_need(
        session,
        borrower_id=borrower.id,
        actor_id=user.id,
        data=NeedInput(
            amount=Decimal("300000"),
            term_months=24,
            purpose="购置冷库设备",
            collateral="credit",
            declared_prior_loan=False,
        ),
    )
    [row] = match_need(session, need.id, top_n=3)
    session.flush()
    return row


@pytest.fixture
def officer(session, lead):
    return UserFactory(username="officer_a", officer=True, institution_id=lead.institution_id)


def _borrower(session, lead):
    from credit_profile.models import Borrower

    need = session.get(Need, lead.need_id)
    return session.get(Borrower, need.borrower_id)


def test_inbox_lists_own_leads_with_sla(client, session, lead, officer):
    login(client, officer.username)
    page = client.get("/officer/leads")
    assert page.status_code == 200
    body = text(page)
    assert "本机构线索" in body
    assert f"#{lead.id}" in body
    assert "30万元" in body
    assert "待认领" in body
    assert "暂无线索" not in body
    claimed = text(client.get("/officer/leads", query_string={"status": "claimed"}))
    assert f"#{lead.id}" not in claimed and "暂无线索" in claimed and "共 0 条" in claimed
    pushed = text(client.get("/officer/leads", query_string={"status": "pushed"}))
    assert f"#{lead.id}" in pushed and "暂无线索" not in pushed


def test_preview_is_anonymous_until_claimed(client, session, lead, officer):
    borrower = _borrower(session, lead)
    login(client, officer.username)

    before = text(client.get(f"/officer/leads/{lead.id}"))
    assert "客户概况（匿名）" in before
    assert "小微企业" in before and "吉州区" in before and "制造业" in before
    assert "微型（10 人以下）" in before
    assert "30万元" in before and "24 个月" in before
    for secret in (
        borrower.name,
        borrower.uscc,
        borrower.uscc[:6] + "********",
        "13912345678",
        "购置冷库设备",
    ):
        assert secret not in before
    # Before the claim the credit page sends the officer back to the lead, saying why (not a bare 403).
    refused = client.get(f"/officer/leads/{lead.id}/credit")
    assert refused.status_code == 302
    assert "认领后才能查看信用画像" in text(client.get(refused.headers["Location"]))

    claimed = client.post(f"/officer/leads/{lead.id}/claim")
    assert claimed.status_code == 302

    after = text(client.get(f"/officer/leads/{lead.id}"))
    assert borrower.name in after
    assert "13912345678" in after
    assert "购置冷库设备" in after
    assert borrower.uscc not in after  # identifiers stay masked outside the owner's profile page
    assert borrower.uscc[:6] in after and borrower.uscc[-4:] in after
    session.expire_all()
    assert session.get(Lead, lead.id).status == "claimed"


def test_second_claim_is_refused_with_a_message(client, session, lead, officer):
    colleague = UserFactory(officer=True, institution_id=lead.institution_id)
    login(client, officer.username)
    client.post(f"/officer/leads/{lead.id}/claim")
    client.post("/logout")
    login(client, colleague.username)
    response = client.post(f"/officer/leads/{lead.id}/claim", follow_redirects=True)
    assert "该线索已被其他客户经理认领" in text(response)
    session.expire_all()
    assert session.get(Lead, lead.id).claimed_by == officer.id


def test_credit_profile_needs_an_active_consent(client, session, lead, officer):
    borrower = _borrower(session, lead)
    login(client, officer.username)
    client.post(f"/officer/leads/{lead.id}/claim")

    refused = client.get(f"/officer/leads/{lead.id}/credit")
    assert refused.status_code == 403
    assert "数据主体未授权或授权已撤回、已过期" in text(refused)
    refusal = session.scalar(select(ConsentUse).where(ConsentUse.borrower_id == borrower.id))
    assert refusal is not None and refusal.allowed is False

    ConsentFactory(borrower_id=borrower.id)
    allowed = client.get(f"/officer/leads/{lead.id}/credit")
    assert allowed.status_code == 200
    assert "数据覆盖情况" in text(allowed)


def test_reject_needs_a_reason(client, session, lead, officer):
    login(client, officer.username)
    client.post(f"/officer/leads/{lead.id}/claim")

    response = client.post(f"/officer/leads/{lead.id}/rejected", data={"rejected-note": "材料不全"})
    assert response.status_code == 422
    assert "拒绝时必须选择原因" in text(response)
    session.expire_all()
    assert session.get(Lead, lead.id).status == "claimed"

    response = client.post(
        f"/officer/leads/{lead.id}/rejected", data={"rejected-reason_code": "incomplete_materials"}
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Lead, lead.id).status == "rejected"
    assert session.get(Lead, lead.id).reason_code == "incomplete_materials"
    assert "申请材料不齐全" in text(client.get(f"/officer/leads/{lead.id}"))


def test_contact_approve_and_disburse_with_loan_details(client, session, lead, officer):
    login(client, officer.username)
    client.post(f"/officer/leads/{lead.id}/claim")
    assert client.post(f"/officer/leads/{lead.id}/approved").status_code == 302
    assert "当前状态不允许这样变更" in text(client.get(f"/officer/leads/{lead.id}"))

    assert (
        client.post(f"/officer/leads/{lead.id}/contacted", data={"contacted-note": "已电话联系"}).status_code
        == 302
    )
    assert client.post(f"/officer/leads/{lead.id}/approved").status_code == 302
    page = text(client.get(f"/officer/leads/{lead.id}"))
    assert "首贷户" in page and "无还本续贷" in page
    assert "借款人此前从未在任何金融机构获得过贷款" in page

    loan = {
        "disbursed-amount": "28",
        "disbursed-rate": "3.85",
        "disbursed-term_months": "24",
        "disbursed-collateral": "credit",
        "disbursed-disbursed_on": local_today().isoformat(),
        "disbursed-first_loan_borrower": "y",
    }
    bad = client.post(f"/officer/leads/{lead.id}/disbursed", data={**loan, "disbursed-rate": "NaN"})
    assert bad.status_code == 422
    assert "请输入有效的数字" in text(bad)
    assert session.scalar(select(Loan).where(Loan.lead_id == lead.id)) is None

    assert client.post(f"/officer/leads/{lead.id}/disbursed", data=loan).status_code == 302
    session.expire_all()
    row = session.scalar(select(Loan).where(Loan.lead_id == lead.id))
    assert row.amount == Decimal("280000.00")
    assert row.rate == Decimal("3.85")
    assert row.first_loan_borrower is True
    assert row.renewal_without_repayment is False
    assert session.get(Lead, lead.id).status == "disbursed"
    assert session.get(Need, lead.need_id).status == "disbursed"
    assert "放款信息" in text(client.get(f"/officer/leads/{lead.id}"))


def test_another_banks_officer_gets_404(client, session, lead):
    other = UserFactory(officer=True, institution_id=InstitutionFactory().id)
    login(client, other.username)
    assert client.get(f"/officer/leads/{lead.id}").status_code == 404
    assert client.post(f"/officer/leads/{lead.id}/claim").status_code == 404
    assert client.get(f"/officer/leads/{lead.id}/credit").status_code == 404
    assert f"#{lead.id}" not in text(client.get("/officer/leads"))
    session.expire_all()
    assert session.get(Lead, lead.id).status == "pushed"


def test_reading_a_credit_profile_records_a_use_and_stores_no_score(client, session, lead, officer):
    """A page view must not change the score that matching uses; only the rescoring job stores one."""
    borrower = _borrower(session, lead)
    applicant_user = session.scalar(select(User).where(User.borrower_id == borrower.id))
    ConsentFactory(borrower_id=borrower.id)
    login(client, officer.username)
    client.post(f"/officer/leads/{lead.id}/claim")

    def count(model):
        return session.scalar(select(func.count()).select_from(model).where(model.borrower_id == borrower.id))

    assert client.get(f"/officer/leads/{lead.id}/credit").status_code == 200
    client.post("/logout")
    login(client, applicant_user.username)
    assert client.get("/me/credit").status_code == 200
    assert count(CreditScore) == 0
    actions = session.scalars(select(ConsentUse.action).where(ConsentUse.borrower_id == borrower.id)).all()
    assert sorted(actions) == ["institution_read", "self_read"]


def _inbox(session, institution, officer, n: int) -> None:
    """n more leads for the institution: every third claimed by the officer, every sixth disbursed with a
    performance report, each borrower scored twice (the later score is the one shown)."""
    import datetime as dt

    from credit_profile.models import CreditScore
    from matching.leads import claim_lead, report_performance, transition_lead
    from matching.loans import LoanInput

    for i in range(n):
        user, borrower = applicant(session, name=f"查询计数企业{i}")
        for grade, computed_at in (("D", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), ("B", None)):
            session.add(
                CreditScore(
                    borrower_id=borrower.id, score=600, grade=grade, reasons=[], sources={},
                    model_version="test", **({"computed_at": computed_at} if computed_at else {}),
                )
            )  # fmt: skip
        need = submit_need(
            session,
            borrower_id=borrower.id,
            actor_id=user.id,
            data=NeedInput(
                amount=Decimal("300000"), term_months=24, purpose=f"用途{i}", collateral="credit",
                declared_prior_loan=False,
            ),
        )  # fmt: skip
        [row] = [lead for lead in match_need(session, need.id, top_n=3) if lead.institution_id == institution]
        if i % 3 == 0:
            claim_lead(session, row.id, officer_id=officer.id, institution_id=institution)
        if i % 6 == 0:
            for step in ("contacted", "approved"):
                transition_lead(session, row.id, to=step, officer_id=officer.id, institution_id=institution)
            loan = LoanInput(
                amount=Decimal("300000"), rate=Decimal("3.85"), term_months=24, collateral="credit",
                disbursed_on=local_today(), first_loan_borrower=True, renewal_without_repayment=False,
            )  # fmt: skip
            transition_lead(
                session, row.id, to="disbursed", officer_id=officer.id, institution_id=institution, loan=loan
            )
            report_performance(
                session, row.id, officer_id=officer.id, institution_id=institution,
                as_of=local_today(), overdue_30=False, overdue_90=False,
            )  # fmt: skip
    session.flush()


@pytest.mark.parametrize("path", ["/officer/leads", "/api/v1/leads"])
def test_inbox_queries_do_not_grow_with_its_leads(client, session, connection, lead, officer, path):
    from sqlalchemy import event

    from tests.factories import PASSWORD
    from tests.portal.api_helpers import token

    session.flush()
    headers = token(client, officer.username, PASSWORD) if path.startswith("/api/") else {}
    if not headers:
        login(client, officer.username)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", count)

    def queries() -> int:
        statements.clear()
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        return len(statements)

    _inbox(session, lead.institution_id, officer, 2)
    few = queries()
    _inbox(session, lead.institution_id, officer, 12)
    body = client.get(path, headers=headers)
    assert queries() == few, "one query or more per lead"
    event.remove(connection, "before_cursor_execute", count)
    # The page shows what the per-lead queries used to fetch: the claimant's view and the latest score.
    if path.startswith("/api/"):
        items = body.get_json()["items"]
        assert len(items) == 15
        claimed = [i for i in items if i["claimed_by"] == officer.username]
        assert claimed and all(i["contact_phone"] == "13912345678" and i["borrower"] for i in claimed)
        assert {i["profile"]["score_band"] for i in items if i["id"] != lead.id} == {"B"}
        disbursed = [i for i in items if i["loan"]]
        assert len(disbursed) == 3
        assert all(i["loan"]["performance"][0]["reported_by"] == officer.username for i in disbursed)
        assert all(i["purpose"] is None and i["borrower"] is None for i in items if i not in claimed)


# --- the workbench (issue 14) ---------------------------------------------------------------------


def _approved(client, lead, officer):
    login(client, officer.username)
    client.post(f"/officer/leads/{lead.id}/claim")
    for step in ("contacted", "approved"):
        assert client.post(f"/officer/leads/{lead.id}/{step}").status_code == 302


def _loan_form(prefix="disbursed", **values):
    data = {
        "amount": "30",
        "rate": "3.85",
        "term_months": "24",
        "collateral": "credit",
        "disbursed_on": local_today().isoformat(),
    }
    data.update(values)
    return {f"{prefix}-{name}": value for name, value in data.items() if value is not None}


def test_a_colleague_sees_who_claimed_the_lead_rather_than_a_bare_403(client, session, lead, officer):
    colleague = UserFactory(username="officer_b2", officer=True, institution_id=lead.institution_id)
    login(client, officer.username)
    client.post(f"/officer/leads/{lead.id}/claim")
    login(client, colleague.username)
    page = text(client.get(f"/officer/leads/{lead.id}"))
    assert "该线索已由 officer_a 认领" in page
    refused = client.get(f"/officer/leads/{lead.id}/credit")
    assert refused.status_code == 302
    assert "该线索已由 officer_a 认领，只有认领人可以查看信用画像" in text(
        client.get(refused.headers["Location"])
    )


def test_an_outlying_disbursement_asks_for_confirmation_first(client, session, lead, officer):
    _approved(client, lead, officer)
    page = text(client.get(f"/officer/leads/{lead.id}"))
    # Prefilled from the need (30万元, in 万元) and from the declarations (no prior loan: 首贷户 ticked).
    assert 'name="disbursed-amount"' in page and 'value="30' in page
    assert re.search(r'<input checked id="disbursed-first_loan_borrower"', page)
    # 200万 typed for a 30万 need: refused with the reason and the confirmation box.
    refused = client.post(f"/officer/leads/{lead.id}/disbursed", data=_loan_form(amount="200"))
    assert refused.status_code == 422
    body = text(refused)
    assert "超过该产品的最高额度" not in body  # the product goes up to 300万元
    assert "放款金额超过需求金额的两倍" in body and "确认金额与标识无误" in body
    assert session.scalar(select(Loan).where(Loan.lead_id == lead.id)) is None
    confirmed = client.post(
        f"/officer/leads/{lead.id}/disbursed", data=_loan_form(amount="90", confirm_outlier="y")
    )
    assert confirmed.status_code == 302
    session.expire_all()
    assert session.scalar(select(Loan).where(Loan.lead_id == lead.id)).amount == Decimal("900000.00")


def test_a_loan_is_corrected_with_a_reason_and_the_history_shows_both_values(client, session, lead, officer):
    _approved(client, lead, officer)
    assert client.post(f"/officer/leads/{lead.id}/disbursed", data=_loan_form()).status_code == 302
    no_reason = client.post(f"/officer/leads/{lead.id}/loan", data=_loan_form("correct", amount="25"))
    assert no_reason.status_code == 422 and "请说明更正原因" in text(no_reason)
    done = client.post(
        f"/officer/leads/{lead.id}/loan", data=_loan_form("correct", amount="25", reason="合同金额为25万元")
    )
    assert done.status_code == 302
    session.expire_all()
    assert session.scalar(select(Loan).where(Loan.lead_id == lead.id)).amount == Decimal("250000.00")
    page = text(client.get(f"/officer/leads/{lead.id}"))
    assert "更正放款信息：金额 30万元 → 25万元" in page and "合同金额为25万元" in page


def test_decline_note_and_hand_over_from_the_pages(client, session, lead, officer):
    colleague = UserFactory(username="officer_b2", officer=True, institution_id=lead.institution_id)
    login(client, officer.username)
    # A refused decline (no reason) writes nothing.
    refused = client.post(f"/officer/leads/{lead.id}/decline", data={"decline-note": "x"})
    assert refused.status_code == 422 and "婉拒时必须选择原因" in text(refused)
    client.post(f"/officer/leads/{lead.id}/claim")
    assert (
        client.post(f"/officer/leads/{lead.id}/notes", data={"note-text": "客户周三来行面谈"}).status_code
        == 302
    )
    assert "客户周三来行面谈" in text(client.get(f"/officer/leads/{lead.id}"))
    handed = client.post(f"/officer/leads/{lead.id}/assign", data={"assign-username": colleague.username})
    assert handed.status_code == 302
    session.expire_all()
    assert session.get(Lead, lead.id).claimed_by == colleague.id
    assert "线索由 officer_a 移交给 officer_b2" in text(client.get(f"/officer/leads/{lead.id}"))


def test_an_unclaimed_lead_is_declined_from_its_page(client, session, lead, officer):
    login(client, officer.username)
    done = client.post(
        f"/officer/leads/{lead.id}/decline",
        data={"decline-reason_code": "policy_restricted", "decline-note": ""},
    )
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Lead, lead.id).status == "declined"
    assert "已婉拒" in text(client.get("/officer/leads?status=declined"))


def test_the_inbox_filters_amounts_in_wan(client, session, lead, officer):
    login(client, officer.username)
    assert f"#{lead.id}" in text(client.get("/officer/leads?amount_min=30&amount_max=30"))
    assert f"#{lead.id}" not in text(client.get("/officer/leads?amount_min=31"))
    bad = client.get("/officer/leads?amount_min=abc")
    assert bad.status_code == 200 and "请输入数字" in text(bad)
