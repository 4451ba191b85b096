"""Command-line operations: migrations, demo data, the first admin, data import, sweeps, rq worker, cron."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_babel import gettext as _

from core.accounts import create_user
from core.errors import InvalidInputError
from core.i18n import N_
from core.models import Role
from core.settings import Settings
from portal.scorecard_cli import scorecard_cli

ROOT = Path(__file__).resolve().parent.parent
db_cli = AppGroup("db", help=N_("数据库迁移（Alembic）"))
audit_cli = AppGroup("audit", help=N_("审计日志（状态变更哈希链）"))


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def _settings() -> Settings:
    settings: Settings = current_app.extensions["jihuitong.settings"]
    return settings


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """迁移数据库到最新（或指定）版本。"""
    url = _settings().database_url
    _ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)
    click.echo(_("数据库已迁移到 %(revision)s", revision=revision))


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """回退数据库到指定版本。"""
    command.downgrade(alembic_config(_settings().database_url), revision)


@db_cli.command("check")
def db_check() -> None:
    """检查模型与迁移是否一致。"""
    command.check(alembic_config(_settings().database_url))


@db_cli.command("current")
def db_current() -> None:
    """显示数据库当前版本。"""
    command.current(alembic_config(_settings().database_url), verbose=False)


@click.command("create-admin")
@click.option("--username", required=True, help=N_("管理员用户名"))
@click.option("--password", default=None, help=N_("不建议在命令行传入；默认从标准输入读取或提示输入"))
def create_admin(username: str, password: str | None) -> None:
    """创建平台管理员（密码从标准输入读取或交互输入）。"""
    from portal.db import commit, db

    if password is None:
        if sys.stdin.isatty():
            password = click.prompt(_("密码"), hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
    try:
        create_user(db(), username=username, password=password, role=Role.ADMIN)
    except InvalidInputError as exc:
        _echo_field_errors(exc)
        raise SystemExit(1) from exc
    commit()
    click.echo(_("管理员 %(name)s 已创建", name=username))


@click.command("seed-demo")
@click.option(
    "--demo-accounts",
    is_flag=True,
    help=N_("在 PostgreSQL 上也创建演示账号（其密码公开在 README 中，只可用于演示或测试环境）"),
)
@with_appcontext
def seed_demo(demo_accounts: bool) -> None:
    """载入演示数据（合成数据，可重复执行，不会覆盖用户已做的操作）。"""
    from portal.db import commit, db
    from portal.seed import seed

    # The demo accounts' password is published: on PostgreSQL (a real deployment) they are created
    # only when asked for by name. SQLite is the local demo of ./scripts/run.
    if db().get_bind().dialect.name == "postgresql" and not demo_accounts:
        click.echo(
            _(
                "拒绝执行：演示账号（包括管理员 admin）的密码公开在 README 中，不能在 PostgreSQL 上默认创建。"
                "如确为演示或测试环境，请加 --demo-accounts；正式环境请用 create-admin 创建第一个管理员。"
            ),
            err=True,
        )
        raise SystemExit(1)
    counts = seed(db())
    commit()
    click.echo(_("演示数据已就绪：%(counts)s", counts="，".join(f"{_(k)} {v}" for k, v in counts.items())))


def _echo_field_errors(exc: InvalidInputError) -> None:
    from portal.messages import field_messages

    for name, messages in field_messages(exc.fields).items():
        click.echo(f"{name}: {'；'.join(messages)}", err=True)


@click.command("import-data")
@click.option(
    "--source",
    required=True,
    type=click.Choice(["electricity", "tax", "bank_flow"]),
    help=N_("数据类别：electricity（用电）、tax（纳税）、bank_flow（银行流水）"),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_data(source: str, path: Path) -> None:
    """导入 CSV 或 XLSX 月度数据（全部成功或全部不导入；每行须有有效授权；分批短事务写入）。"""
    from core import runtime
    from credit_profile.imports import get_import, run_import, submit_import
    from credit_profile.models import ImportStatus
    from credit_profile.tables import MAX_TABLE_BYTES
    from portal.db import commit, db

    with path.open("rb") as handle:
        content = handle.read(MAX_TABLE_BYTES + 1)
    try:
        data_import = submit_import(db(), source, path.name, content, actor_id=None)
    except InvalidInputError as exc:
        _echo_field_errors(exc)
        click.echo(_("未导入任何数据"), err=True)
        raise SystemExit(1) from exc
    commit()
    # Here rather than on a worker: the operator waits for the answer. The job's own short transactions.
    status = run_import(runtime.job_session, data_import.id)
    db().expire_all()
    done = get_import(db(), data_import.id)
    if status != ImportStatus.PUBLISHED:
        _echo_field_errors(InvalidInputError(done.errors or {}))
        click.echo(_("未导入任何数据"), err=True)
        raise SystemExit(1)
    click.echo(_("已导入 %(n)s 条", n=done.imported))


@click.command("consent-sweep")
@with_appcontext
def consent_sweep() -> None:
    """把已过期的授权标记为过期，并删除授权结束超过保留期限的数据（可重复执行；供 cron 每日调用）。"""
    from credit_profile import jobs

    expired = jobs.expire_consents()
    deleted = jobs.purge_expired_data()
    click.echo(_("过期授权 %(e)s 项；删除数据 %(d)s 条", e=expired, d=deleted))


@click.command("relay-outbox")
def relay_outbox_command() -> None:
    """把积压的后台任务交给队列（Redis 恢复后使用；未配置 Redis 时在本进程内执行）。"""
    from portal.db import session_factory
    from portal.worker import relay_outbox

    handed = relay_outbox(session_factory(), _settings(), limit=10_000)
    click.echo(_("已转交 %(n)s 个任务", n=handed))


@click.command("worker")
@click.option("--burst", is_flag=True, help=N_("处理完队列后退出"))
def worker(burst: bool) -> None:
    """启动 rq worker（JSON 序列化，含重试调度器；定时任务由 cron 命令投递）。"""
    from portal.worker import run_worker

    settings = _settings()
    if not settings.redis_url:
        raise click.ClickException(
            _("未配置 REDIS_URL：嵌入式模式下任务由 Web 进程的后台线程执行，无需 worker")
        )
    run_worker(current_app.extensions["jihuitong.session_factory"], settings, burst=burst)


@click.command("cron")
def cron() -> None:
    """启动 rq 定时调度（rq.cron）：按各模块声明的周期投递定时任务；全站只运行一个。"""
    from portal.worker import CronAlreadyRunning, run_cron

    settings = _settings()
    if not settings.redis_url:
        raise click.ClickException(_("未配置 REDIS_URL：嵌入式模式下定时任务由 Web 进程的后台线程执行"))
    try:
        run_cron(settings)
    except CronAlreadyRunning as exc:
        raise click.ClickException(_("已有定时调度进程在运行：%(names)s", names=str(exc))) from exc


@click.command("rotate-data-key")
@with_appcontext
def rotate_data_key() -> None:
    """用 DATA_KEY 中的第一个密钥重新加密全部加密字段，并重算盲索引（轮换密钥时使用）。"""
    from core.crypto import DataKeyError
    from core.keys import reencrypt_all
    from portal.db import commit, db

    try:
        counts = reencrypt_all(db())
    except DataKeyError as exc:
        message = _("有数据无法用 DATA_KEY 中的任何密钥解密：请把旧密钥保留在列表中")
        raise click.ClickException(message) from exc
    commit()
    done = "，".join(_("%(table)s %(n)s 行", table=table, n=n) for table, n in counts.items())
    click.echo(_("已重新加密：%(done)s", done=done))


@audit_cli.command("anchor")
@click.option("--file", "path", default=None, help=N_("锚点文件（默认 AUDIT_ANCHOR_FILE）"))
def audit_anchor(path: str | None) -> None:
    """把审计链当前链头追加写入锚点文件和日志（链头未变时不写）。"""
    from core.anchors import anchor_file, anchor_head
    from portal.db import db

    anchor = anchor_head(db(), Path(path) if path else anchor_file())
    if anchor is None:
        click.echo(_("链头未变化，未写入新锚点"))
    else:
        click.echo(_("已写入锚点：#%(seq)s %(hash)s", seq=anchor.chain_seq, hash=anchor.hash))


@audit_cli.command("verify")
@click.option("--anchors", "anchors_path", default=None, help=N_("锚点文件（默认 AUDIT_ANCHOR_FILE）"))
def audit_verify(anchors_path: str | None) -> None:
    """重算审计哈希链并与锚点比对：发现被修改或删除的记录时列出问题并以非零状态退出。"""
    from core.anchors import anchor_file, read_anchors
    from core.audit import verify_chain
    from credit_profile.receipts import verify_use_receipts
    from guarantees.schemes import verify_schemes
    from portal.db import db

    report = verify_chain(db(), anchors=read_anchors(Path(anchors_path) if anchors_path else anchor_file()))
    kinds = {
        "unsealed": _("未封存"),
        "missing": _("缺失"),
        "broken_link": _("链接断裂"),
        "edited": _("内容被修改"),
        "truncated": _("链尾被删除"),
        "anchor_mismatch": _("与锚点不符"),
        "receipt_mismatch": _("数据使用记录与回执不符"),
        "scheme_mismatch": _("担保方案与审计记录不符"),
    }
    problems = [*report.problems, *verify_use_receipts(db()), *verify_schemes(db())]
    for problem in problems:
        where = f"#{problem.chain_seq}" if problem.chain_seq is not None else f"id={problem.event_id}"
        click.echo(f"{kinds.get(problem.kind, problem.kind)} {where}: {problem.detail}", err=True)
    click.echo(
        _(
            "审计链：%(n)s 条，链头 #%(seq)s %(hash)s",
            n=report.rows,
            seq=report.head_seq,
            hash=report.head_hash,
        )
    )
    if problems:
        raise SystemExit(1)
    click.echo(_("审计链完整"))


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_demo)
    app.cli.add_command(worker)
    app.cli.add_command(cron)
    app.cli.add_command(relay_outbox_command)
    app.cli.add_command(import_data)
    app.cli.add_command(consent_sweep)
    app.cli.add_command(rotate_data_key)
    app.cli.add_command(audit_cli)
    app.cli.add_command(scorecard_cli)
