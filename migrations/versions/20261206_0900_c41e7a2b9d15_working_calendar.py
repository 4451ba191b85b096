"""the working calendar (core.calendars): `calendar_years` (one row per loaded year, `official` or
`provisional`, and its source) and `calendar_days` (the dates that depart from Monday-Friday). Years are
loaded by `flask --app wsgi calendar load`, the daily job and admins; until then the SLA clocks read
the packages' arrangement directly.

Revision ID: c41e7a2b9d15
Revises: 7c1e9a3b5d20
Create Date: 2026-12-06 09:00:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "c41e7a2b9d15"
down_revision: Union[str, Sequence[str], None] = "7c1e9a3b5d20"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["loaded_by"], ["users.id"], name=op.f("fk_calendar_years_loaded_by_users")),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["year"],
            ["calendar_years.year"],
            name=op.f("fk_calendar_days_year_calendar_years"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_days")),
    )
    with op.batch_alter_table("calendar_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_days_year"), ["year"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calendar_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_days_year"))
    op.drop_table("calendar_days")
    op.drop_table("calendar_years")
