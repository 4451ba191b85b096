"""Every Chinese message an error code turns into, through Flask-Babel."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

ERROR_MESSAGES = {
    "bad_request": _l("请求格式不正确"),
    "invalid_json": _l("请求体不是合法的 JSON"),
    "unauthorized": _l("请先登录或提供有效的访问令牌"),
    "invalid_credentials": _l("用户名或密码不正确"),
    "invalid_signature": _l("签名校验失败：请检查密钥、时间戳和请求体"),
    "forbidden": _l("您没有权限执行此操作"),
    "consent_required": _l("数据主体未授权或授权已撤回、已过期，不能查看该画像"),
    "not_found": _l("请求的资源不存在"),
    "lead_not_found": _l("线索不存在"),
    "need_not_found": _l("融资需求不存在"),
    "product_not_found": _l("产品不存在"),
    "institution_not_found": _l("机构不存在"),
    "borrower_not_found": _l("借款主体不存在"),
    "consent_not_found": _l("授权记录不存在"),
    "notification_not_found": _l("通知不存在"),
    "report_not_found": _l("报表不存在"),
    "report_not_ready": _l("报表尚未生成完成，请稍后再试"),
    "method_not_allowed": _l("不支持该请求方法"),
    "conflict": _l("当前状态不允许该操作"),
    "already_claimed": _l("该线索已被其他客户经理认领"),
    "illegal_transition": _l("当前状态不允许这样变更"),
    "not_claimant": _l("只有认领该线索的客户经理可以更新进度"),
    "invalid_need_state": _l("该融资需求当前状态不允许此操作"),
    "invalid_product_state": _l("该产品当前状态不允许此操作"),
    "consent_not_active": _l("该授权已不是生效状态"),
    "scorecard_not_found": _l("评分卡版本不存在"),
    "scorecard_version_conflict": _l("该评分卡版本号已被另一份评分卡使用，或有人同时启用了其他版本"),
    "lead_not_disbursed": _l("该线索尚未放款，不能报告贷款表现"),
    "payload_too_large": _l("请求体过大"),
    "validation_error": _l("提交的内容有误，请按提示修改"),
    "rate_limited": _l("操作过于频繁，请稍后再试"),
    "service_unavailable": _l("服务暂时不可用，请稍后再试"),
    "internal_error": _l("服务器内部错误，请稍后再试"),
}

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}

FIELD_ERROR_MESSAGES = {
    "required": _l("此项必填"),
    "taken": _l("已被占用，请换一个"),
    "invalid_checksum": _l("校验位不正确，请核对后重新输入"),
    "invalid_choice": _l("选项无效"),
    "out_of_range": _l("数值超出允许范围"),
    "too_many_decimals": _l("最多保留两位小数"),
    "less_than_min": _l("不能小于对应的最小值"),
    "in_future": _l("不能晚于今天"),
    "too_early": _l("不能早于 1900 年 1 月 1 日"),
    "in_past": _l("不能早于今天"),
    "too_far": _l("授权期限最长三年"),
    "too_short": _l("密码至少 8 位"),
    "too_simple": _l("密码过于简单，请混合使用字母、数字和符号"),
    "unknown": _l("不存在"),
    "before_push": _l("放款日期不能早于线索推送日期"),
    "too_many": _l("一次最多提交 1000 条"),
    "invalid_format": _l("格式不正确"),
    "before_start": _l("结束月份不能早于开始月份"),
    "before_disbursement": _l("不能早于放款日期"),
    "implied_by_overdue_90": _l("曾逾期 90 天以上必然曾逾期 30 天以上，请同时选择"),
    "unknown_characteristic": _l("评分卡包含平台不计算的特征，不能用于本平台"),
    "unsupported_type": _l("仅支持 .csv 或 .xlsx 文件"),
    "too_large": _l("文件不能超过 1 MiB"),
    "unreadable": _l("无法读取该文件，请检查格式（CSV 请用 UTF-8 或 GBK 编码）"),
    "empty": _l("文件中没有数据行"),
    "too_many_rows": _l("一次最多导入 50000 行"),
    "too_many_columns": _l("一行最多 200 个单元格"),
    "cell_too_long": _l("单元格内容不能超过 1000 个字符"),
    "invalid_phone": _l("请输入有效的中国大陆手机号码"),
    "invalid_username": _l("用户名只能使用字母、数字、下划线、点、连字符和汉字，不能含空格或不可见字符"),
    # the working calendar (core.calendars)
    "outside_year": _l("日期不属于所选年份"),
    "duplicate": _l("日期重复"),
    "also_a_holiday": _l("同一天不能既是假日又是调休上班日"),
}

# Record and table errors come as "<field>:<code>" (the provider API's codes); shown as "<label>：<message>".
RECORD_FIELD_LABELS = {
    "record": _l("记录"),
    "subject": _l("数据主体"),
    "uscc": _l("统一社会信用代码"),
    "id_number": _l("身份证号码"),
    "period": _l("所属期"),
    "kwh": _l("用电量"),
    "bill_amount": _l("电费"),
    "sales": _l("申报销售额"),
    "tax_paid": _l("已缴税额"),
    "credit_rating": _l("纳税信用等级"),
    "arrears": _l("是否欠税"),
    "inflow": _l("流入金额"),
    "outflow": _l("流出金额"),
    "end_balance": _l("月末余额"),
    "consent": _l("授权"),
}
RECORD_ERROR_MESSAGES = {
    "required": _l("此项必填"),
    "not_an_object": _l("应为对象"),
    "invalid_checksum": _l("校验位不正确，请核对"),
    "invalid_format": _l("格式应为 YYYY-MM"),
    "out_of_range": _l("超出允许范围"),
    "invalid_number": _l("应为数字"),
    "too_many_decimals": _l("最多保留两位小数"),
    "invalid_choice": _l("应为 A、B、M、C、D 之一"),
    "not_a_boolean": _l("应为“是”或“否”"),
    "unknown": _l("平台上没有该主体，请先注册"),
    "not_active": _l("数据主体没有覆盖该类数据的有效授权"),
    "period_not_covered": _l("该月份不在数据主体授权的期间内"),
    "duplicate_in_file": _l("同一主体、同一月份在文件中重复出现"),
    "duplicate_in_batch": _l("同一主体、同一月份在本批中重复出现"),
    "missing_column": _l("缺少该列"),
}

FIELD_SPECIFIC = {
    ("borrower.uscc", "invalid_checksum"): _l(
        "统一社会信用代码校验位不正确（GB 32100-2015），请核对营业执照"
    ),
    ("borrower.id_number", "invalid_checksum"): _l(
        "身份证号码校验位或出生日期不正确（GB 11643-1999），请核对"
    ),
    ("borrower.uscc", "taken"): _l("该统一社会信用代码已注册"),
    ("borrower.id_number", "taken"): _l("该身份证号码已注册"),
    ("uscc", "invalid_checksum"): _l("统一社会信用代码校验位不正确（GB 32100-2015），请核对营业执照"),
    ("id_number", "invalid_checksum"): _l("身份证号码校验位或出生日期不正确（GB 11643-1999），请核对"),
    ("uscc", "taken"): _l("该统一社会信用代码已注册"),
    ("id_number", "taken"): _l("该身份证号码已注册"),
    ("username", "taken"): _l("用户名已被占用"),
    ("code", "taken"): _l("机构代码已存在"),
    ("amount", "out_of_range"): _l("申请金额须在 1000 元至 1 亿元之间"),
    ("term_months", "out_of_range"): _l("期限须在 1 至 360 个月之间"),
    ("renewal.matures_on", "out_of_range"): _l("到期日须在今天至一年之内"),
    ("reason_code", "required"): _l("拒绝时必须选择原因"),
    ("period.from", "invalid_format"): _l("月份格式应为 YYYY-MM（2000 年及以后）"),
    ("period.to", "invalid_format"): _l("月份格式应为 YYYY-MM（2000 年及以后）"),
    ("model", "invalid_format"): _l("评分卡文件格式无效"),
}


def error_message(code: str) -> str:
    return str(ERROR_MESSAGES.get(code, ERROR_MESSAGES["bad_request"]))


def field_messages(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """Field -> Chinese messages for the error codes a service returned."""
    result: dict[str, list[str]] = {}
    for name, codes in fields.items():
        result[name] = [_field_message(name, code) for code in codes]
    return result


def _field_message(name: str, code: str) -> str:
    if ":" in code:
        field, _sep, what = code.partition(":")
        label = RECORD_FIELD_LABELS.get(field, field)
        message = RECORD_ERROR_MESSAGES.get(what) or _("内容无效")
        return f"{label}：{message}"
    return str(FIELD_SPECIFIC.get((name, code)) or FIELD_ERROR_MESSAGES.get(code) or _("内容无效"))
