"""The authorisation text shown before a consent is granted; its version and hash are kept as evidence."""

from __future__ import annotations

import hashlib

from core.i18n import N_

CONSENT_TEXT_VERSION = "2026-11-v1"
CONSENT_TEXT = N_(
    "本人（本单位）授权吉惠通平台在授权有效期内，向国网吉安供电公司、国家税务总局吉安市税务局及本人指定的"
    "开户银行采集所勾选的数据（用电、纳税、银行流水），仅用于生成信用画像和向本人发布的融资需求所推送的金融机构"
    "提供授信参考。金融机构仅在认领需求后方可查看可识别的画像，每一次查看和采集均记录在案并向本人公开。"
    "本人可随时在“数据授权”页面一键撤回授权；撤回后平台立即停止采集和对外提供，已采集的数据在保留期满后删除。"
)
CONSENT_TEXT_HASH = hashlib.sha256(CONSENT_TEXT.encode("utf-8")).hexdigest()
RETENTION_DAYS = 180
