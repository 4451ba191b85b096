"""Monthly reports for the finance offices: requested here, built by a job, polled and downloaded."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for

from core.i18n import N_
from core.models import Role
from portal.api import api_bp
from portal.api.schemas.reports import MonthlyReportIn, ReportList, ReportOut
from portal.auth import api_user, token_auth
from portal.db import db
from portal.stats_scope import attachment, scoped_region
from stats.models import Report
from stats.reports import get_report as find_report
from stats.reports import list_reports, report_file, report_pdf, request_monthly_report

FINANCE = [Role.FINANCE.value]


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "kind": report.kind,
        "month": report.month,
        "region_code": report.region_code,
        "status": report.status,
        "progress": report.progress,
        "created_at": report.created_at,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "error": report.error,
        "filename": report.filename,
        "download_url": url_for("api.report_download", report_id=report.id)
        if report.status == "done"
        else None,
    }


@api_bp.post("/reports/monthly")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(MonthlyReportIn, arg_name="body")
@api_bp.output(ReportOut, status_code=202)
@api_bp.doc(summary=N_("生成月度监测报表（后台任务，返回报表编号以查询进度）"), responses=[401, 403, 422])
def report_request(body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    region = scoped_region(user, body.get("region_code"))
    report = request_monthly_report(db(), month=body["month"], region_code=region, requested_by=user.id)
    result = report_dict(report)
    return result


@api_bp.get("/reports")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.output(ReportList)
@api_bp.doc(summary=N_("本辖区的报表（最新在前）"), responses=[401, 403])
def reports() -> dict[str, Any]:
    return {"items": [report_dict(r) for r in list_reports(db(), viewer_region=api_user().region_code)]}


@api_bp.get("/reports/<int:report_id>")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.output(ReportOut)
@api_bp.doc(summary=N_("报表状态与进度"), responses=[401, 403, 404])
def report_status(report_id: int) -> dict[str, Any]:
    return report_dict(find_report(db(), report_id, viewer_region=api_user().region_code))


def _file_responses(file: str) -> dict[int, str]:
    return {
        200: file,
        401: N_("未登录"),
        404: N_("报表不存在或不在本辖区"),
        409: N_("报表尚未生成完成"),
    }


@api_bp.get("/reports/<int:report_id>/download")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.doc(summary=N_("下载已生成的报表（XLSX）"), responses=_file_responses(N_("XLSX 文件")))
def report_download(report_id: int) -> Response:
    return attachment(*report_file(db(), report_id, viewer_region=api_user().region_code))


@api_bp.get("/reports/<int:report_id>/pdf")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.doc(
    summary=N_("下载已生成的报表（PDF，与 XLSX 数字相同）"), responses=_file_responses(N_("PDF 文件"))
)
def report_download_pdf(report_id: int) -> Response:
    return attachment(*report_pdf(db(), report_id, viewer_region=api_user().region_code))
