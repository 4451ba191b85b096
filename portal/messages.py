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
    "report_pdf_unavailable": _l(
        "生成该报告的服务器未安装 PDF 排版组件，暂无 PDF；请在网页上查看报告或下载 Excel 明细表"
    ),
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
    # the officer's workbench (issue 14)
    "implausible_loan": _l("放款信息不合理，请核实"),
    "correction_window_closed": _l("放款已超过 30 天，不能再更正"),
    # guarantees
    "scheme_paused": _l("该方案已暂停受理新业务"),
    "commitment_missing": _l("银行书面续贷承诺尚未入档，周转金不能审批"),
    "limit_exceeded": _l("超出方案限额（承诺金额比例、单户上限或资金余额）"),
    "invalid_state": _l("当前办理状态不允许该操作"),
    # accounts (issue 13)
    "account_locked": _l("该账户连续多次密码错误，已暂时锁定，请 15 分钟后再试或通过短信验证码重置密码"),
    "phone_unverified": _l("手机号码尚未验证，请先输入短信验证码完成验证"),
    "invalid_code": _l("验证码不正确或已失效，请重新获取"),
    "user_not_found": _l("用户不存在"),
    "provider_not_found": _l("数据提供方不存在"),
    "password_change_required": _l("请先修改管理员重置的临时密码（POST /api/v1/me/password）"),
    "duplicate_need": _l("您已有一笔金额、期限和担保方式都相同的融资需求正在办理，无需重复提交"),
    "too_many_open_needs": _l("您同时办理中的融资需求已有 3 笔，请等其中一笔办结或撤回后再提交"),
    "need_claimed": _l("已有客户经理认领该需求，不能再修改；如需变更请联系客户经理"),
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
    "too_simple": _l("密码过于简单或过于常见，请换一个更难猜的密码"),
    "contains_username": _l("密码不能包含用户名"),
    "wrong_password": _l("当前密码不正确"),
    "same_as_current": _l("新密码不能与当前密码相同"),
    "invalid_code": _l("验证码不正确或已失效，请重新获取"),
    "own_account": _l("不能停用自己的账户或修改自己的角色"),
    "unknown": _l("不存在"),
    "before_push": _l("放款日期不能早于线索推送日期"),
    "too_many": _l("一次最多提交 1000 条"),
    "invalid_format": _l("格式不正确"),
    "before_start": _l("结束月份不能早于开始月份"),
    "before_disbursement": _l("不能早于放款日期"),
    "implied_by_overdue_90": _l("曾逾期 90 天以上必然曾逾期 30 天以上，请同时选择"),
    "unknown_characteristic": _l("评分卡包含平台不计算的特征，不能用于本平台"),
    "reason_required": _l("该版本的验证集 AUC 低于当前版本、低于 0.6 或未知，启用须填写理由"),
    "unsupported_type": _l("仅支持 .csv 或 .xlsx 文件"),
    "too_large": _l("文件不能超过 1 MiB"),
    "unreadable": _l("无法读取该文件，请检查格式（CSV 请用 UTF-8 或 GBK 编码）"),
    "empty": _l("文件中没有数据行"),
    "too_many_rows": _l("一次最多导入 50000 行"),
    # the officer's workbench (issue 14)
    "amount_above_product_max": _l("放款金额超过该产品的最高额度"),
    "amount_outlier": _l("放款金额超过需求金额的两倍，请核实；确属实请勾选“确认金额与标识无误”后再提交"),
    "first_loan_conflict": _l("该借款人在平台已有贷款或自报曾有贷款，不能标为首贷户"),
    "renewal_conflict": _l("该需求不是续贷申请，请核实无还本续贷标识；确属实请勾选“确认金额与标识无误”"),
    "unknown_colleague": _l("本机构没有该用户名的在岗客户经理"),
    "self": _l("不能移交给自己"),
    "too_long": _l("最多 500 字"),
    "unchanged": _l("没有修改任何放款信息"),
    # guarantees
    "not_found": _l("不存在或无权使用"),
    "invalid_shares": _l("各方比例应在 0 到 1 之间且合计为 1"),
    "invalid_tiers": _l("费率分段无效：最后一段应不设天数上限，日费率在 0 到 1 之间"),
    "above_cap": _l("超过方案规定的上限"),
    "amount_mismatch": _l("金额应与应付金额一致"),
    "before_claim": _l("不能早于请求日期"),
    "nothing_to_return": _l("各方损失均已足额返还，无可分配金额"),
    "above_covered_amount": _l("不能超过担保/补偿金额"),
    "above_overdue_principal": _l("逾期利息不能超过逾期本金，请核对单位（万元）和位数"),
    "above_interest_limit": _l("逾期利息超过按年利率 36% 自放款日计算的上限，请核对单位（万元）和位数"),
    "above_principal_and_interest": _l("抵质押物回收不能超过逾期本金与利息之和，请核对单位（万元）和位数"),
    "above_single_cap": _l("超过方案单户上限"),
    "above_principal": _l("不能超过到期本金"),
    "invalid_hash": _l("应为 64 位十六进制 SHA-256 摘要"),
    "before_previous_step": _l("不能早于上一步的日期"),
    "not_operator": _l("请选择融资担保机构或资金管理方（在用的担保类机构）"),
    "in_use": _l("该方案已有担保或周转金业务，不能更改类型"),
    "document_or_hash": _l("请上传承诺书文件或填写其 SHA-256 摘要"),
    "hash_mismatch": _l("上传文件的 SHA-256 与填写的摘要不一致"),
    "above_commitment_share": _l("超过方案上限：周转金最多为续贷金额（到期本金）乘以方案比例"),
    "not_fileable": _l("含有不在保或已备案的业务"),
    "filing_overdue": _l("含有已超过备案期限的业务"),
    "region": _l("借款主体所在地区不在方案范围内"),
    "borrower_kind": _l("借款主体类型不在方案范围内"),
    "industry": _l("借款主体所属行业被方案排除"),
    "tags": _l("产品不属于方案支持的类别"),
    "single_cap": _l("超过方案单户上限"),
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
    ("registration", "identifier_taken"): _l(
        "该证件号码已有账户，不能再注册。如系本人，请用原账户登录或找回密码；否则请携带证件到当地金融服务大厅办理"
    ),
    ("code", "taken"): _l("机构代码已存在"),
    ("amount", "out_of_range"): _l("申请金额须在 0.1 万元至 10000 万元之间"),
    ("term_months", "out_of_range"): _l("期限须在 1 至 360 个月之间"),
    ("renewal.matures_on", "out_of_range"): _l("到期日须在今天至一年之内"),
    ("reason_code", "required"): _l("拒绝时必须选择原因"),
    ("period.from", "invalid_format"): _l("月份格式应为 YYYY-MM（2000 年及以后）"),
    ("period.to", "invalid_format"): _l("月份格式应为 YYYY-MM（2000 年及以后）"),
    ("model", "invalid_format"): _l("评分卡文件格式无效"),
    # Why the product an applicant applied for cannot serve the need (matching.engine's exclusion codes).
    ("product_id", "unknown"): _l("该产品不存在或已暂停受理"),
    ("product_id", "region"): _l("该产品未覆盖您所在的地区"),
    ("product_id", "borrower_kind"): _l("该产品不面向您这类客户"),
    ("product_id", "amount_below_min"): _l("申请金额低于该产品的最低额度"),
    ("product_id", "amount_above_max"): _l("申请金额高于该产品的最高额度"),
    ("product_id", "term"): _l("申请期限不在该产品的期限范围内"),
    ("product_id", "collateral"): _l("该产品不接受您选择的担保方式"),
    ("product_id", "industry_excluded"): _l("该产品不支持您所在的行业"),
    ("product_id", "score_below_min"): _l("您的信用评分低于该产品的要求"),
    ("product_id", "no_score"): _l("该产品要求信用评分，您暂无数据，授权后可评分"),
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


# --- post-loan monitoring (monitoring/) ---------------------------------------------------------
ERROR_MESSAGES.update(
    {
        "warning_not_found": _l("预警不存在"),
        "warning_state_conflict": _l("该预警当前状态不允许此操作（请先确认、登记处置后再关闭）"),
        "rule_not_found": _l("预警规则不存在"),
        "loan_not_found": _l("贷款不存在"),
        "monitoring_consent_paused": _l("该贷款的贷后监测授权已暂停，请在“数据授权”中恢复，无需重新授权"),
    }
)
FIELD_ERROR_MESSAGES.update(
    {
        "beyond_red": _l("黄色阈值不能比红色阈值更严重"),
        "invalid_number": _l("请输入数字"),
        "too_long": _l("内容过长"),
    }
)
RECORD_FIELD_LABELS["bill_overdue"] = _l("电费是否逾期")
