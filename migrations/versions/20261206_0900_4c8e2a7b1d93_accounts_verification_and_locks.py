"""accounts: phone verification codes, the phone's blind index (password reset by SMS), per-account
sign-in locks, temporary passwords, provider last use and rotation, institutions that can be deactivated.

Existing accounts count as verified; existing phones get their blind index (the first DATA_KEY is
needed only when there are rows).

Revision ID: 4c8e2a7b1d93
Revises: 7383001d355a
Create Date: 2026-12-06 09:00:00.000000

"""

from typing import Any, Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "4c8e2a7b1d93"
down_revision: Union[str, Sequence[str], None] = "7383001d355a"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

messages = sa.table("outgoing_messages", sa.column("id", sa.Integer), sa.column("to", sa.Text))
users = sa.table(
    "users", sa.column("id", sa.Integer), sa.column("phone", sa.Text), sa.column("phone_index", sa.String(64))
)


def _keys() -> Any:
    from core import crypto

    try:
        return crypto.current()
    except crypto.DataKeyError:
        from core.settings import Settings

        return crypto.configure(Settings.from_env().data_keys)


def upgrade() -> None:
    op.create_table(
        "verification_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_verification_codes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_codes")),
    )
    op.create_index("ix_verification_codes_user_purpose", "verification_codes", ["user_id", "purpose"])
    op.create_table(
        "form_submissions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_form_submissions_user_id_users")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_form_submissions")),
    )
    op.create_index(op.f("ix_form_submissions_created_at"), "form_submissions", ["created_at"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("phone_index", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("phone_verified", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_phone_index"), ["phone_index"])
    with op.batch_alter_table("data_providers") as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("institutions") as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("outgoing_messages") as batch_op:
        batch_op.alter_column(
            "to", existing_type=sa.String(length=128), type_=sa.Text(), existing_nullable=False
        )
    conn = op.get_bind()
    recipients = conn.execute(sa.select(messages.c.id, messages.c.to)).all()
    if recipients:
        keys = _keys()
        for id_, to in recipients:
            conn.execute(messages.update().where(messages.c.id == id_).values(to=keys.encrypt(to)))
    phones = conn.execute(sa.select(users.c.id, users.c.phone).where(users.c.phone.is_not(None))).all()
    if phones:
        keys = _keys()
        for id_, phone in phones:
            conn.execute(
                users.update()
                .where(users.c.id == id_)
                .values(phone_index=keys.blind_index(keys.decrypt(phone)))
            )


def downgrade() -> None:
    conn = op.get_bind()
    recipients = conn.execute(sa.select(messages.c.id, messages.c.to)).all()
    if recipients:
        keys = _keys()
        for id_, to in recipients:
            conn.execute(messages.update().where(messages.c.id == id_).values(to=keys.decrypt(to)[:128]))
    with op.batch_alter_table("outgoing_messages") as batch_op:
        batch_op.alter_column(
            "to", existing_type=sa.Text(), type_=sa.String(length=128), existing_nullable=False
        )
    with op.batch_alter_table("institutions") as batch_op:
        batch_op.drop_column("active")
    with op.batch_alter_table("data_providers") as batch_op:
        batch_op.drop_column("rotated_at")
        batch_op.drop_column("last_used_at")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_phone_index"))
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("phone_verified")
        batch_op.drop_column("phone_index")
    op.drop_index(op.f("ix_form_submissions_created_at"), table_name="form_submissions")
    op.drop_table("form_submissions")
    op.drop_index("ix_verification_codes_user_purpose", table_name="verification_codes")
    op.drop_table("verification_codes")
