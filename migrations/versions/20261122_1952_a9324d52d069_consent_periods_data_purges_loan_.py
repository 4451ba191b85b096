"""consent periods, data purges, loan performance, one active scorecard

Consents gain the months of data they cover; the retention sweep records what it deleted; lenders
report loan performance; at most one scorecard version may be active (a partial unique index).

Revision ID: a9324d52d069
Revises: 30e4e2a206ed
Create Date: 2026-11-22 19:52:25.639221

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "a9324d52d069"
down_revision: Union[str, Sequence[str], None] = "30e4e2a206ed"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "data_purges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("first_period", sa.String(length=7), nullable=False),
        sa.Column("last_period", sa.String(length=7), nullable=False),
        sa.Column("consent_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("scores_redacted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.id"], name=op.f("fk_data_purges_borrower_id_borrowers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_purges")),
    )
    with op.batch_alter_table("data_purges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_purges_borrower_id"), ["borrower_id"], unique=False)

    op.create_table(
        "loan_performance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("overdue_30", sa.Boolean(), nullable=False),
        sa.Column("overdue_90", sa.Boolean(), nullable=False),
        sa.Column("reported_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_loan_performance_loan_id_loans")),
        sa.ForeignKeyConstraint(
            ["reported_by"], ["users.id"], name=op.f("fk_loan_performance_reported_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_performance")),
    )
    with op.batch_alter_table("loan_performance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loan_performance_loan_id"), ["loan_id"], unique=False)

    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("period_from", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("period_to", sa.String(length=7), nullable=True))

    # Keep only the newest active version active, so that the unique index can be built.
    op.execute(
        "UPDATE scorecard_versions SET active = false WHERE active AND id <> "
        "(SELECT max(id) FROM scorecard_versions WHERE active)"
    )
    with op.batch_alter_table("scorecard_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_scorecard_versions_one_active",
            ["active"],
            unique=True,
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("scorecard_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_scorecard_versions_one_active",
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )

    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("period_to")
        batch_op.drop_column("period_from")

    with op.batch_alter_table("loan_performance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loan_performance_loan_id"))

    op.drop_table("loan_performance")
    with op.batch_alter_table("data_purges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_purges_borrower_id"))

    op.drop_table("data_purges")
