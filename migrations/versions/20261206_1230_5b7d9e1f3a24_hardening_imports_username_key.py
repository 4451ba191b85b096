"""Hardening (issue 19). `data_imports` and `staged_records`: administrators' table imports run as a job
with progress, staged invisibly and published in one short transaction (credit_profile.imports).

`users.username_key`: each username NFKC-normalised and casefolded (core.usernames.casefold_username)
under a unique index, so two sign-ups that race past the service's check cannot both win (`Alice` and
`alice`). Existing rows are filled in; if two of them already collide the upgrade stops with a message
naming them, and an operator renames one before running it again.

Revision ID: 5b7d9e1f3a24
Revises: c41e7a2b9d15
Create Date: 2026-12-06 12:30:00.000000

"""

import unicodedata
from collections import defaultdict
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision: str = "5b7d9e1f3a24"
down_revision: Union[str, Sequence[str], None] = "c41e7a2b9d15"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String),
                  sa.column("username_key", sa.String))  # fmt: skip


def _key(username: str) -> str:
    # Frozen copy of core.usernames.casefold_username: a migration must not change with the app.
    return unicodedata.normalize("NFKC", username).casefold()


def upgrade() -> None:
    op.create_table(
        "data_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_checked", sa.Integer(), nullable=False),
        sa.Column("rows_staged", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=True),
        sa.Column("errors", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_data_imports_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_imports")),
    )  # fmt: skip
    op.create_table(
        "staged_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        *[sa.Column(name, sa.Numeric(precision=16, scale=2), nullable=True)
          for name in ("kwh", "bill_amount", "sales", "tax_paid")],
        sa.Column("credit_rating", sa.String(length=1), nullable=True),
        sa.Column("arrears", sa.Boolean(), nullable=True),
        *[sa.Column(name, sa.Numeric(precision=16, scale=2), nullable=True)
          for name in ("inflow", "outflow", "end_balance")],
        sa.ForeignKeyConstraint(["borrower_id"], ["borrowers.id"],
                                name=op.f("fk_staged_records_borrower_id_borrowers")),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"], name=op.f("fk_staged_records_consent_id_consents")),
        sa.ForeignKeyConstraint(["import_id"], ["data_imports.id"], ondelete="CASCADE",
                                name=op.f("fk_staged_records_import_id_data_imports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staged_records")),
        sa.UniqueConstraint("import_id", "borrower_id", "period",
                            name=op.f("uq_staged_records_import_id_borrower_id_period")),
    )  # fmt: skip
    with op.batch_alter_table("staged_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staged_records_import_id"), ["import_id"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username_key", sa.String(length=128), nullable=True))
    bind = op.get_bind()
    by_key: dict[str, list[str]] = defaultdict(list)
    rows = bind.execute(sa.select(_users.c.id, _users.c.username)).all()
    for _id, username in rows:
        by_key[_key(username)].append(username)
    collisions = {key: names for key, names in by_key.items() if len(names) > 1}
    if collisions:
        listed = "; ".join(" / ".join(repr(n) for n in names) for names in collisions.values())
        raise RuntimeError(
            "用户名规范化（NFKC、忽略大小写）后重复，无法建立唯一索引，请先为其中之一改名后再升级："
            f"{listed}\n"
            "Usernames collide once NFKC-normalised and casefolded, so the unique index cannot be built; "
            f"rename one of each group and run the upgrade again: {listed}"
        )
    for user_id, username in rows:
        bind.execute(sa.update(_users).where(_users.c.id == user_id).values(username_key=_key(username)))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("username_key", existing_type=sa.String(length=128), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_users_username_key"), ["username_key"])


def downgrade() -> None:
    op.drop_table("staged_records")
    op.drop_table("data_imports")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_username_key"), type_="unique")
        batch_op.drop_column("username_key")
