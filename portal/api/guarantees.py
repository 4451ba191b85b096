"""Government credit enhancement in the JSON API (docs/api.md, 担保与风险补偿): schemes as data (the
city finance office or an administrator maintains them), covers from request to recovery, bridge
applications from application to return, and the finance office's figures. Who may see or change
which record is decided in the guarantees package; another's record is a 404."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from marshmallow import RAISE

from core.errors import PermissionDeniedError
from core.i18n import N_
from core.models import Role, User
from core.reference import CITY_CODE
from guarantees import bridges, covers, defaults, figures, schemes
from guarantees.models import Scheme
from guarantees.views import bridge_list, bridge_view, cover_queue, cover_view, viewer_of
from portal.api import api_bp
from portal.api.common import page_body
from portal.api.schemas.guarantees import (
    BridgeIn,
    BridgeList,
    BridgeOut,
    CommitmentIn,
    CoverOut,
    CoverPage,
    CoverQuery,
    CoverRequestIn,
    DecisionIn,
    DefaultIn,
    FiguresOut,
    FiguresQuery,
    FilingIn,
    FilingOut,
    PauseIn,
    PaymentIn,
    ProductLinksIn,
    RecoveryIn,
    RefuseIn,
    ReleaseIn,
    RenewalIn,
    SchemeIn,
    SchemeList,
    SchemeOut,
    StepDateIn,
)
from portal.auth import api_user, token_auth
from portal.db import db
from portal.stats_scope import stats_window

GUARANTOR = Role.GUARANTOR.value
OFFICER = Role.OFFICER.value
FINANCE = Role.FINANCE.value
APPLICANT = Role.APPLICANT.value
READERS = [GUARANTOR, OFFICER, FINANCE, APPLICANT]


def _maintainer() -> User:
    """The city finance office or an administrator (schemes are the city's). Raises PermissionDeniedError."""
    user = api_user()
    if user.role == Role.ADMIN or (user.role == FINANCE and user.region_code == CITY_CODE):
        return user
    raise PermissionDeniedError("schemes are maintained by the city finance office")


def _institution(user: User) -> int:
    if user.institution_id is None:
        raise PermissionDeniedError("staff without institution")
    return user.institution_id


def _scheme_json(scheme: Scheme, product_ids: list[int] | None = None) -> dict[str, Any]:
    if product_ids is None:
        product_ids = schemes.linked_product_ids(db(), [scheme.id])[scheme.id]
    return {
        **{c.key: getattr(scheme, c.key) for c in Scheme.__table__.columns if c.key != "created_at"},
        "product_ids": product_ids,
    }


def _as_dict(view: Any) -> dict[str, Any]:
    return dataclasses.asdict(view)  # type: ignore[no-any-return]


@api_bp.get("/guarantees/schemes")
@api_bp.auth_required(token_auth)
@api_bp.output(SchemeList)
@api_bp.doc(
    summary=N_("政府性融资担保、再担保、风险补偿资金和续贷周转金方案（含分担比例和限额）"), responses=[401]
)
def scheme_list() -> dict[str, Any]:
    listed = schemes.list_schemes(db())
    linked = schemes.linked_product_ids(db(), [s.id for s in listed])
    return {"items": [_scheme_json(s, linked[s.id]) for s in listed]}


@api_bp.post("/guarantees/schemes")
@api_bp.auth_required(token_auth, roles=[FINANCE, Role.ADMIN.value])
@api_bp.input(SchemeIn, arg_name="body")
@api_bp.output(SchemeOut, status_code=201)
@api_bp.doc(summary=N_("新建方案（市金融办或管理员）"), responses=[401, 403, 422])
def scheme_create(body: dict[str, Any]) -> dict[str, Any]:
    user = _maintainer()
    scheme = schemes.create_scheme(db(), schemes.SchemeInput(**body), actor_id=user.id)
    return _scheme_json(scheme)


@api_bp.patch("/guarantees/schemes/<int:scheme_id>")
@api_bp.auth_required(token_auth, roles=[FINANCE, Role.ADMIN.value])
@api_bp.input(SchemeIn(partial=True), arg_name="body")
@api_bp.output(SchemeOut)
@api_bp.doc(
    summary=N_("修改方案条款（只需提交要改的字段；全部校验通过才保存，修改前后值记入审计）"),
    responses=[401, 403, 404, 422],
)
def scheme_update(scheme_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = _maintainer()
    current = schemes.scheme_input(db(), schemes.get_scheme(db(), scheme_id))
    scheme = schemes.update_scheme(db(), scheme_id, dataclasses.replace(current, **body), actor_id=user.id)
    return _scheme_json(scheme)


@api_bp.post("/guarantees/schemes/<int:scheme_id>/pause")
@api_bp.auth_required(token_auth, roles=[FINANCE, Role.ADMIN.value])
@api_bp.input(PauseIn, arg_name="body")
@api_bp.output(SchemeOut)
@api_bp.doc(summary=N_("暂停（须说明原因）或恢复方案"), responses=[401, 403, 404, 422])
def scheme_pause(scheme_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = _maintainer()
    scheme = schemes.get_scheme(db(), scheme_id)
    schemes.set_paused(db(), scheme, paused=body["paused"], reason=body.get("reason"), actor_id=user.id)
    return _scheme_json(scheme)


@api_bp.put("/guarantees/schemes/<int:scheme_id>/products")
@api_bp.auth_required(token_auth, roles=[FINANCE, Role.ADMIN.value])
@api_bp.input(ProductLinksIn, arg_name="body")
@api_bp.output(SchemeOut)
@api_bp.doc(
    summary=N_("登记方案覆盖的产品（金融超市显示“政府性担保”“风险补偿”）"), responses=[401, 403, 404, 422]
)
def scheme_products(scheme_id: int, body: dict[str, Any]) -> dict[str, Any]:
    _maintainer()
    scheme = schemes.get_scheme(db(), scheme_id)
    schemes.link_products(db(), scheme, body["product_ids"])
    return _scheme_json(scheme)


@api_bp.get("/guarantees/covers")
@api_bp.auth_required(token_auth, roles=READERS)
@api_bp.input(CoverQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(CoverPage)
@api_bp.doc(
    summary=N_(
        "担保/补偿业务列表：担保机构为本机构待办队列（超时优先），银行为本行，金融办为本辖区，申请人为本人"
    ),
    responses=[401, 403, 422],
)
def cover_list(query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    rows, total = cover_queue(
        db(), viewer_of(api_user()), status=query.get("status"), limit=per_page, offset=(page - 1) * per_page
    )
    return page_body([_as_dict(r) for r in rows], total, page, per_page)


@api_bp.post("/guarantees/covers")
@api_bp.auth_required(token_auth, roles=[OFFICER])
@api_bp.input(CoverRequestIn, arg_name="body")
@api_bp.output(CoverOut, status_code=201)
@api_bp.doc(summary=N_("银行客户经理为已审批的线索申请担保/补偿"), responses=[401, 403, 404, 409, 422])
def cover_request(body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    cover = covers.request_cover(
        db(), body["lead_id"], body["scheme_id"], officer_id=user.id, institution_id=_institution(user),
        fee_rate=Decimal(body["fee_rate"]),
    )  # fmt: skip
    return _as_dict(cover_view(db(), cover.id, viewer_of(user)))


@api_bp.get("/guarantees/covers/<int:cover_id>")
@api_bp.auth_required(token_auth, roles=READERS)
@api_bp.output(CoverOut)
@api_bp.doc(
    summary=N_("一笔担保/补偿：状态、备案、代偿瀑布（含计算过程）、支付、回收与办理记录"),
    responses=[401, 403, 404],
)
def cover_get(cover_id: int) -> dict[str, Any]:
    return _as_dict(cover_view(db(), cover_id, viewer_of(api_user())))


@api_bp.post("/guarantees/covers/<int:cover_id>/decision")
@api_bp.auth_required(token_auth, roles=[GUARANTOR])
@api_bp.input(DecisionIn, arg_name="body")
@api_bp.output(CoverOut)
@api_bp.doc(summary=N_("担保机构同意或拒绝（拒绝须说明原因）"), responses=[401, 403, 404, 409, 422])
def cover_decide(cover_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    covers.decide_cover(
        db(), cover_id, approve=body["approve"], reason=body.get("reason"), user_id=user.id,
        operator_id=_institution(user),
    )  # fmt: skip
    return _as_dict(cover_view(db(), cover_id, viewer_of(user)))


@api_bp.post("/guarantees/covers/filings")
@api_bp.auth_required(token_auth, roles=[GUARANTOR])
@api_bp.input(FilingIn, arg_name="body")
@api_bp.output(FilingOut, status_code=201)
@api_bp.doc(summary=N_("批量备案在保业务（全部成功或全部不备案）"), responses=[401, 403, 422])
def cover_file(body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    batch = covers.file_covers(
        db(),
        body["cover_ids"],
        operator_id=_institution(user),
        user_id=user.id,
        filed_on=body.get("filed_on"),
    )
    return {"batch": batch, "cover_ids": sorted(set(body["cover_ids"]))}


@api_bp.post("/guarantees/covers/<int:cover_id>/release")
@api_bp.auth_required(token_auth, roles=[OFFICER])
@api_bp.input(ReleaseIn, arg_name="body")
@api_bp.output(CoverOut)
@api_bp.doc(summary=N_("银行报告贷款已结清，解除担保"), responses=[401, 403, 404, 409, 422])
def cover_release(cover_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    covers.release_cover(
        db(), cover_id, institution_id=_institution(user), user_id=user.id, repaid_on=body["repaid_on"]
    )
    return _as_dict(cover_view(db(), cover_id, viewer_of(user)))


@api_bp.post("/guarantees/covers/<int:cover_id>/default")
@api_bp.auth_required(token_auth, roles=[OFFICER])
@api_bp.input(DefaultIn, arg_name="body")
@api_bp.output(CoverOut, status_code=201)
@api_bp.doc(
    summary=N_("银行报告逾期（事故报告）：按方案比例和代偿上限计算各方分担"),
    responses=[401, 403, 404, 409, 422],
)
def cover_default(cover_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    data = defaults.DefaultInput(
        body["overdue_since"], Decimal(body["principal"]), Decimal(body["interest"]),
        Decimal(body["collateral_realised"]),
    )  # fmt: skip
    defaults.report_default(db(), cover_id, data, institution_id=_institution(user), user_id=user.id)
    return _as_dict(cover_view(db(), cover_id, viewer_of(user)))


@api_bp.post("/guarantees/compensations/<int:compensation_id>/payment")
@api_bp.auth_required(token_auth, roles=[GUARANTOR])
@api_bp.input(PaymentIn, arg_name="body")
@api_bp.output(CoverOut)
@api_bp.doc(summary=N_("登记代偿或分险款的支付（金额须等于应付）"), responses=[401, 403, 404, 409, 422])
def compensation_pay(compensation_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    row = defaults.record_payment(
        db(), compensation_id, operator_id=_institution(user), user_id=user.id, paid_on=body["paid_on"],
        amount=Decimal(body["amount"]),
    )  # fmt: skip
    report = db().get(defaults.DefaultReport, row.default_id)
    assert report is not None
    return _as_dict(cover_view(db(), report.cover_id, viewer_of(user)))


@api_bp.post("/guarantees/covers/<int:cover_id>/recoveries")
@api_bp.auth_required(token_auth, roles=[GUARANTOR])
@api_bp.input(RecoveryIn, arg_name="body")
@api_bp.output(CoverOut, status_code=201)
@api_bp.doc(summary=N_("登记追偿回收，按各方实际承担比例返还"), responses=[401, 403, 404, 409, 422])
def cover_recovery(cover_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    defaults.record_recovery(
        db(), cover_id, operator_id=_institution(user), user_id=user.id, amount=Decimal(body["amount"]),
        recovered_on=body["recovered_on"], method=body["method"],
    )  # fmt: skip
    return _as_dict(cover_view(db(), cover_id, viewer_of(user)))


@api_bp.get("/guarantees/bridges")
@api_bp.auth_required(token_auth, roles=READERS)
@api_bp.output(BridgeList)
@api_bp.doc(summary=N_("续贷周转金申请（各角色只见本机构、本辖区或本人的）"), responses=[401, 403])
def bridge_index() -> dict[str, Any]:
    return {"items": [_as_dict(v) for v in bridge_list(db(), viewer_of(api_user()))]}


@api_bp.post("/guarantees/bridges")
@api_bp.auth_required(token_auth, roles=[APPLICANT])
@api_bp.input(BridgeIn, arg_name="body")
@api_bp.output(BridgeOut, status_code=201)
@api_bp.doc(
    summary=N_("申请续贷周转金：引用本人的续贷需求（need_id）或平台贷款（loan_id），或填写到期贷款"),
    responses=[401, 403, 404, 409, 422],
)
def bridge_apply(body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    if user.borrower_id is None:
        raise PermissionDeniedError("applicant without borrower")
    data = bridges.BridgeRequest(
        scheme_id=body["scheme_id"], amount=Decimal(body["amount"]), need_id=body.get("need_id"),
        loan_id=body.get("loan_id"), institution_code=body.get("institution_code"),
        contract_no=body.get("contract_no") or "",
        maturing_principal=Decimal(body["maturing_principal"]) if body.get("maturing_principal") else None,
        matures_on=body.get("matures_on"),
    )  # fmt: skip
    app = bridges.apply_for_bridge(db(), data, borrower_id=user.borrower_id, user_id=user.id)
    return _as_dict(bridge_view(db(), app.id, viewer_of(user)))


@api_bp.get("/guarantees/bridges/<int:bridge_id>")
@api_bp.auth_required(token_auth, roles=READERS)
@api_bp.output(BridgeOut)
@api_bp.doc(
    summary=N_("一笔续贷周转金：银行承诺、各步日期、使用天数倒计时和分段费用"), responses=[401, 403, 404]
)
def bridge_get(bridge_id: int) -> dict[str, Any]:
    return _as_dict(bridge_view(db(), bridge_id, viewer_of(api_user())))


@api_bp.post("/guarantees/bridges/<int:bridge_id>/commitment")
@api_bp.auth_required(token_auth, roles=[OFFICER])
@api_bp.input(CommitmentIn, arg_name="body")
@api_bp.output(BridgeOut)
@api_bp.doc(
    summary=N_("银行登记书面续贷承诺（金额、日期、签字人、承诺书 SHA-256）"),
    responses=[401, 403, 404, 409, 422],
)
def bridge_commit(bridge_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    data = bridges.Commitment(
        Decimal(body["amount"]), body["renewal_on"], body["signer"], body["document_sha256"].lower()
    )
    bridges.record_commitment(db(), bridge_id, data, institution_id=_institution(user), user_id=user.id)
    return _as_dict(bridge_view(db(), bridge_id, viewer_of(user)))


@api_bp.post("/guarantees/bridges/<int:bridge_id>/approve")
@api_bp.auth_required(token_auth, roles=[GUARANTOR])
@api_bp.output(BridgeOut)
@api_bp.doc(
    summary=N_("审批周转金：须已有银行承诺，且不超过承诺金额比例、单户上限和可用资金；方案暂停时 409"),
    responses=[401, 403, 404, 409],
)
def bridge_approve(bridge_id: int) -> dict[str, Any]:
    user = api_user()
    bridges.approve_bridge(db(), bridge_id, operator_id=_institution(user), user_id=user.id)
    return _as_dict(bridge_view(db(), bridge_id, viewer_of(user)))


@api_bp.post("/guarantees/bridges/<int:bridge_id>/refuse")
@api_bp.auth_required(token_auth, roles=[GUARANTOR])
@api_bp.input(RefuseIn, arg_name="body")
@api_bp.output(BridgeOut)
@api_bp.doc(summary=N_("不予批准（须说明原因）"), responses=[401, 403, 404, 409, 422])
def bridge_refuse(bridge_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    bridges.refuse_bridge(
        db(), bridge_id, operator_id=_institution(user), user_id=user.id, reason=body["reason"]
    )
    return _as_dict(bridge_view(db(), bridge_id, viewer_of(user)))


@api_bp.post("/guarantees/bridges/<int:bridge_id>/<any(disburse, return):step>")
@api_bp.auth_required(token_auth, roles=[GUARANTOR])
@api_bp.input(StepDateIn, arg_name="body")
@api_bp.output(BridgeOut)
@api_bp.doc(summary=N_("周转金划出（计时开始）或归还（按分段费率计费）"), responses=[401, 403, 404, 409, 422])
def bridge_operator_step(bridge_id: int, step: str, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    move = bridges.disburse_bridge if step == "disburse" else bridges.return_bridge
    move(db(), bridge_id, operator_id=_institution(user), user_id=user.id, on=body["on"])
    return _as_dict(bridge_view(db(), bridge_id, viewer_of(user)))


@api_bp.post("/guarantees/bridges/<int:bridge_id>/old-loan-repaid")
@api_bp.auth_required(token_auth, roles=[OFFICER])
@api_bp.input(StepDateIn, arg_name="body")
@api_bp.output(BridgeOut)
@api_bp.doc(summary=N_("银行确认原贷款已用周转金归还"), responses=[401, 403, 404, 409, 422])
def bridge_old_repaid(bridge_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    bridges.record_old_loan_repaid(
        db(), bridge_id, institution_id=_institution(user), user_id=user.id, on=body["on"]
    )
    return _as_dict(bridge_view(db(), bridge_id, viewer_of(user)))


@api_bp.post("/guarantees/bridges/<int:bridge_id>/renewal")
@api_bp.auth_required(token_auth, roles=[OFFICER])
@api_bp.input(RenewalIn, arg_name="body")
@api_bp.output(BridgeOut)
@api_bp.doc(summary=N_("银行登记续贷已发放"), responses=[401, 403, 404, 409, 422])
def bridge_renewal(bridge_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    bridges.record_renewal(
        db(), bridge_id, institution_id=_institution(user), user_id=user.id, on=body["on"],
        amount=Decimal(body["amount"]),
    )  # fmt: skip
    return _as_dict(bridge_view(db(), bridge_id, viewer_of(user)))


@api_bp.get("/guarantees/figures")
@api_bp.auth_required(token_auth, roles=[FINANCE])
@api_bp.input(FiguresQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(FiguresOut)
@api_bp.doc(
    summary=N_(
        "担保、补偿和周转金指标：按县、银行、担保机构或方案分组，区间与截至日（口径见 docs/metrics.md）"
    ),
    responses=[401, 403, 422],
)
def figures_get(query: dict[str, Any]) -> dict[str, Any]:
    window = stats_window(api_user(), query["from_date"], query["to_date"], query.get("region_code"))
    period = figures.Period(window.first, window.last, window.region_code)
    by = query["by"]
    return {
        "from_date": period.first,
        "to_date": period.last,
        "as_at": period.as_at,
        "region_code": window.region_code,
        "by": by,
        "covers": [{"key": str(k), "figures": v} for k, v in figures.cover_figures(db(), period, by).items()],
        "bridges": [
            {"key": str(k), "figures": v} for k, v in figures.bridge_figures(db(), period, by).items()
        ],
        "schemes": [_as_dict(s) for s in figures.scheme_figures(db(), period)],
        "caps": [_as_dict(c) for c in figures.cap_monitor(db())],
    }
