"""covering indexes for the statistics windows: the date indexes of needs, leads and loans carry the
columns the statistics read (matching.models *_WINDOW_COLUMNS), so that a window is an index-only scan
on PostgreSQL. Other dialects ignore `postgresql_include` and get the plain date index back.

Revision ID: 2f4115975448
Revises: 429d8bcffa1d
Create Date: 2026-11-22 22:56:28.226604

"""

from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = "2f4115975448"
down_revision: Union[str, Sequence[str], None] = "429d8bcffa1d"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NEED_COLUMNS = ("id", "borrower_id", "amount", "is_renewal", "status")
LEAD_COLUMNS = ("id", "need_id", "institution_id", "product_id", "status", "claimed_at", "sla_due_at")
LOAN_COLUMNS = (
    "id", "borrower_id", "institution_id", "product_id", "amount", "rate", "collateral",
    "first_loan_borrower", "renewal_without_repayment",
)  # fmt: skip


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index(op.f("ix_leads_pushed_at"), table_name="leads")
    op.create_index("ix_leads_pushed_at_covering", "leads", ["pushed_at"], postgresql_include=LEAD_COLUMNS)
    op.drop_index(op.f("ix_loans_disbursed_on"), table_name="loans")
    op.create_index(
        "ix_loans_disbursed_on_covering", "loans", ["disbursed_on"], postgresql_include=LOAN_COLUMNS
    )
    op.drop_index(op.f("ix_needs_submitted_at"), table_name="needs")
    op.create_index(
        "ix_needs_submitted_at_covering", "needs", ["submitted_at"], postgresql_include=NEED_COLUMNS
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_needs_submitted_at_covering", table_name="needs")
    op.create_index(op.f("ix_needs_submitted_at"), "needs", ["submitted_at"], unique=False)
    op.drop_index("ix_loans_disbursed_on_covering", table_name="loans")
    op.create_index(op.f("ix_loans_disbursed_on"), "loans", ["disbursed_on"], unique=False)
    op.drop_index("ix_leads_pushed_at_covering", table_name="leads")
    op.create_index(op.f("ix_leads_pushed_at"), "leads", ["pushed_at"], unique=False)
