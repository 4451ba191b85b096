"""``flask scorecard``: train a scorecard from a CSV file, score CSV files with an artefact, register an
artefact as a version, and export the platform's own loans and outcomes as a training table.

pandas and the training stack (optbinning, scikit-learn, matplotlib; the ``train`` extra) are imported
inside the commands only, so registering this group never loads them into the web app or workers.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask.cli import AppGroup
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from credit_profile.errors import ScorecardVersionConflictError
from credit_profile.scorecard import Scorecard, ScorecardFormatError
from credit_profile.scorecard_terms import CategoricalCharacteristic

if TYPE_CHECKING:
    import pandas as pd

CSV_ENCODING = "utf-8-sig"  # also reads files saved by Excel with a byte-order mark

METHOD_LABELS = {"scorecard": _l("分箱逻辑回归评分卡"), "ebm": _l("可解释加性提升模型（EBM）")}

scorecard_cli = AppGroup("scorecard", help=_l("评分卡：训练与批量评分"))


@scorecard_cli.command("train", help=_l("用 CSV 数据训练评分卡，输出评分卡文件和验证报告"))
@click.option(
    "--data", "data_path", required=True, type=click.Path(path_type=Path), help=_l("训练数据 CSV 文件")
)
@click.option("--target", required=True, help=_l("目标列：1 = 坏（违约等不良结果），0 = 好"))
@click.option(
    "--out", "out_path", required=True, type=click.Path(path_type=Path), help=_l("评分卡 JSON 输出路径")
)
@click.option("--version", "version", default=None, help=_l("评分卡版本号（默认按训练时间生成）"))
@click.option(
    "--report-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help=_l("验证报告目录（默认与评分卡文件同目录）"),
)
@click.option(
    "--bad-value", default=None, help=_l("目标列取该值时视为坏（1），其余为好（0）；不指定时目标列须为 0/1")
)
@click.option("--exclude", multiple=True, help=_l("不参与建模的列（如编号），可重复"))
@click.option("--categorical", multiple=True, help=_l("按类别处理的列（即使内容是数字），可重复"))
@click.option(
    "--method",
    type=click.Choice(["auto", "scorecard", "ebm"]),
    default="auto",
    show_default=True,
    help=_l(
        "模型类型：scorecard = 分箱逻辑回归评分卡；"
        "ebm = 可解释加性提升模型（每个特征一张分值表，可含少量两两组合）；"
        "auto = 只用训练集比较两者，选准确度高的"
    ),
)
def train_command(
    data_path: Path,
    target: str,
    out_path: Path,
    version: str | None,
    report_dir: Path | None,
    bad_value: str | None,
    exclude: tuple[str, ...],
    categorical: tuple[str, ...],
    method: str,
) -> None:
    from credit_profile.training import TrainingDataError, train_scorecard
    from credit_profile.validation import render_score_distribution

    df = _read_csv(data_path, dtype=None)
    if df.empty:
        raise click.ClickException(_("数据文件没有数据行：%(path)s", path=str(data_path)))
    if target not in df.columns:
        raise click.ClickException(
            _(
                "数据文件中没有目标列“%(target)s”，现有列：%(columns)s",
                target=target,
                columns=_join(df.columns),
            )
        )
    df[target] = _binary_target(df[target], target, bad_value)
    unknown = [name for name in (*exclude, *categorical) if name not in df.columns]
    if unknown:
        raise click.ClickException(_("数据文件中没有这些列：%(columns)s", columns=_join(unknown)))

    version = version or f"trained-{datetime.now(UTC):%Y%m%d%H%M%S}"
    try:
        artefact, report = train_scorecard(
            df, target, version=version, exclude=exclude, categorical=categorical, method=method
        )
    except TrainingDataError as exc:
        raise click.ClickException(_training_error_message(exc)) from exc

    report_stem = (report_dir or out_path.parent) / f"{out_path.stem}.report"
    report_json = report_stem.with_name(report_stem.name + ".json")
    report_png = report_stem.with_name(report_stem.name + ".png")
    for path in (out_path, report_json):
        path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(artefact, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    report_json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    report_png.write_bytes(render_score_distribution(report))

    metrics = report["validation"] or report["development"]
    sample = _("验证集") if report["validation"] else _("训练集")
    selected = sum(1 for c in report["characteristics"] if c["decision"] == "selected")
    click.echo(_("评分卡版本：%(version)s", version=version))
    click.echo(_("模型类型：%(method)s", method=METHOD_LABELS.get(report["method"], report["method"])))
    click.echo(
        _(
            "入模特征：%(selected)d 个（候选 %(total)d 个）",
            selected=selected,
            total=sum(1 for c in report["characteristics"] if c["decision"] != "pair"),
        )
    )
    click.echo(_("%(sample)s AUC：%(value).4f", sample=sample, value=metrics["auc"]))
    click.echo(_("%(sample)s KS：%(value).4f", sample=sample, value=metrics["ks"]))
    click.echo(_("%(sample)s Gini：%(value).4f", sample=sample, value=metrics["gini"]))
    if report["validation"]:
        click.echo(_("PSI（训练集对验证集）：%(value).4f", value=report["validation"]["psi"]))
    pairs = [c["name"] for c in report["characteristics"] if c["decision"] == "pair"]
    if pairs:
        click.echo(_("两两组合项：%(pairs)s", pairs=_join(pairs)))
    if report["reference"]:
        click.echo(
            _(
                "对照（未调参的梯度提升树 HistGradientBoosting，同一划分）"
                "验证集 AUC：%(value).4f，差距 %(gap)+.4f",
                value=report["reference"]["auc"],
                gap=metrics["auc"] - report["reference"]["auc"],
            )
        )
    click.echo(_("评分卡文件：%(path)s", path=str(out_path)))
    click.echo(_("验证报告：%(json)s，%(png)s", json=str(report_json), png=str(report_png)))


@scorecard_cli.command("score", help=_l("用评分卡为 CSV 中的每一行评分，按原顺序输出并增加 score 列"))
@click.option(
    "--model", "model_path", required=True, type=click.Path(path_type=Path), help=_l("评分卡 JSON 文件")
)
@click.option(
    "--data", "data_path", required=True, type=click.Path(path_type=Path), help=_l("待评分的 CSV 文件")
)
@click.option(
    "--out", "out_path", required=True, type=click.Path(path_type=Path), help=_l("评分结果 CSV 输出路径")
)
def score_command(model_path: Path, data_path: Path, out_path: Path) -> None:
    from credit_profile.training import ColumnTypeError, score_table

    scorecard = _load_scorecard(model_path)
    # Category values are compared as text: "01" must stay "01", not become the number 1.
    text_columns = {
        c.name: str for c in scorecard.characteristics if isinstance(c, CategoricalCharacteristic)
    }
    df = _read_csv(data_path, dtype=text_columns)
    absent = [c.name for c in scorecard.characteristics if c.name not in df.columns]
    if absent:
        click.echo(_("提示：数据中没有以下特征列，按缺失处理：%(columns)s", columns=_join(absent)))
    try:
        scores = score_table(scorecard, df)
    except ColumnTypeError as exc:
        raise click.ClickException(
            _("列“%(column)s”应为数值，但包含无法识别的内容", column=exc.column)
        ) from exc
    if "score" in df.columns:
        click.echo(_("提示：输入已有 score 列，将被新的评分覆盖"))
    df["score"] = scores
    out_path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out_path, index=False, encoding="utf-8")
    click.echo(
        _(
            "已为 %(rows)d 行评分（评分卡版本 %(version)s），结果写入 %(path)s",
            rows=len(df),
            version=scorecard.version,
            path=str(out_path),
        )
    )


def _read_csv(path: Path, dtype: Any) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise click.ClickException(_("找不到数据文件：%(path)s", path=str(path)))
    try:
        return pd.read_csv(path, dtype=dtype, encoding=CSV_ENCODING)
    except pd.errors.EmptyDataError as exc:
        raise click.ClickException(_("数据文件为空：%(path)s", path=str(path))) from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            _("数据文件不是 UTF-8 编码，请另存为 UTF-8 CSV：%(path)s", path=str(path))
        ) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise click.ClickException(
            _("无法解析 CSV 文件 %(path)s：%(detail)s", path=str(path), detail=str(exc))
        ) from exc


def _binary_target(series: pd.Series, target: str, bad_value: str | None) -> pd.Series:
    if series.isna().any():
        raise click.ClickException(_("目标列“%(target)s”有空值，请删除这些行或补齐", target=target))
    if bad_value is not None:
        as_text = series.astype(str)
        if not (as_text == bad_value).any():
            raise click.ClickException(
                _("目标列“%(target)s”中没有取值为“%(value)s”的行", target=target, value=bad_value)
            )
        return (as_text == bad_value).astype(int)
    others = sorted({str(v) for v in series.unique() if str(v) not in {"0", "1", "0.0", "1.0"}})
    if others:
        raise click.ClickException(
            _(
                "目标列“%(target)s”只能为 0（好）或 1（坏），发现其他取值：%(values)s；"
                "如目标列为文字，请用 --bad-value 指定代表“坏”的取值",
                target=target,
                values=_join(others[:5]),
            )
        )
    return series.astype(float).astype(int)


def _load_scorecard(path: Path) -> Scorecard:
    if not path.is_file():
        raise click.ClickException(_("找不到评分卡文件：%(path)s", path=str(path)))
    try:
        return Scorecard.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise click.ClickException(_("评分卡文件不是有效的 JSON：%(path)s", path=str(path))) from exc
    except (ScorecardFormatError, AttributeError, TypeError) as exc:
        raise click.ClickException(_("评分卡文件格式无效：%(detail)s", detail=str(exc))) from exc


def _training_error_message(exc: Exception) -> str:
    messages = {
        "too_few_rows": _("数据行太少，无法训练评分卡"),
        "single_class": _("目标列需要同时包含好（0）和坏（1）样本"),
        "too_few_outcomes": _("好或坏样本太少，无法划分验证集"),
        "no_characteristics": _("除目标列外没有可用的特征列"),
        "no_predictive_characteristic": _("没有任何特征能区分好坏样本，无法训练评分卡"),
        "unknown_method": _("未知的模型类型"),
    }
    message: str = messages.get(getattr(exc, "code", ""), _("训练失败：%(detail)s", detail=str(exc)))
    return message


def _join(names: Any) -> str:
    return "、".join(str(name) for name in names)


@scorecard_cli.command("register", help=_l("登记评分卡文件为一个版本（未启用；由管理员通过 API 启用）"))
@click.option(
    "--model", "model_path", required=True, type=click.Path(path_type=Path), help=_l("评分卡 JSON 文件")
)
@click.option("--note", default=None, help=_l("版本说明（如训练数据与验证结果）"))
def register_command(model_path: Path, note: str | None) -> None:
    from core.errors import InvalidInputError
    from credit_profile.scorecards import register_scorecard
    from portal.db import commit, db
    from portal.messages import field_messages

    scorecard = _load_scorecard(model_path)
    try:
        row = register_scorecard(db(), scorecard.to_dict(), note=note)
    except InvalidInputError as exc:
        detail = f"{exc.detail}" if exc.detail else ""
        messages = "；".join(m for ms in field_messages(exc.fields).values() for m in ms)
        raise click.ClickException(f"{messages} {detail}".strip()) from exc
    except ScorecardVersionConflictError as exc:
        raise click.ClickException(
            _("版本号“%(version)s”已被另一份评分卡使用，请用 --version 重新训练", version=scorecard.version)
        ) from exc
    commit()
    click.echo(_("已登记评分卡版本 %(version)s（未启用）", version=row.version))


@scorecard_cli.command(
    "export-training", help=_l("导出已放款且有贷款表现报告的训练数据（放款时的特征 + 目标列），供 train 使用")
)
@click.option(
    "--out", "out_path", required=True, type=click.Path(path_type=Path), help=_l("训练数据 CSV 输出路径")
)
@click.option(
    "--target",
    type=click.Choice(["overdue_90", "overdue_30"]),
    default="overdue_90",
    show_default=True,
    help=_l("目标：曾逾期 90 天以上或 30 天以上记为坏（1）"),
)
@click.option(
    "--min-months-on-book",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help=_l("未变坏的贷款须至少有这么多个月的表现期才纳入"),
)
def export_training_command(out_path: Path, target: str, min_months_on_book: int) -> None:
    from matching.loans import TRAINING_COLUMNS, training_table
    from portal.db import commit, db

    rows = training_table(db(), target=target, min_months_on_book=min_months_on_book)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*TRAINING_COLUMNS, target])
        for row in rows:
            values = [row.features.get(name) for name in TRAINING_COLUMNS[1:]]
            writer.writerow([row.loan_id, *("" if v is None else v for v in values), row.bad])
    # The export is itself a recorded use of each borrower's consent.
    commit()
    bad = sum(row.bad for row in rows)
    click.echo(
        _(
            "已导出 %(rows)d 笔贷款（坏 %(bad)d 笔）到 %(path)s；训练：flask --app wsgi scorecard train "
            "--data %(path)s --target %(target)s --exclude loan_id --out 评分卡.json",
            rows=len(rows),
            bad=bad,
            path=str(out_path),
            target=target,
        )
    )
