"""the borrower on leads: `leads.borrower_id`, filled from the lead's need and kept equal to it by a
foreign key on (need_id, borrower_id) to needs (id, borrower_id), so that the statistics reach a lead's
borrower without joining needs. The covering index of leads by push time carries it.

Revision ID: 5b7e1c9d3a60
Revises: 2f4115975448
Create Date: 2026-11-22 23:45:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "5b7e1c9d3a60"
down_revision: Union[str, Sequence[str], None] = "2f4115975448"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_LEAD_COLUMNS = ("id", "need_id", "institution_id", "product_id", "status", "claimed_at", "sla_due_at")
LEAD_COLUMNS = (
    "id", "need_id", "borrower_id", "institution_id", "product_id", "status", "claimed_at", "sla_due_at",
)  # fmt: skip


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_needs_id_borrower_id"), ["id", "borrower_id"])

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("borrower_id", sa.Integer(), nullable=True))
    op.execute("UPDATE leads SET borrower_id = needs.borrower_id FROM needs WHERE needs.id = leads.need_id")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.alter_column("borrower_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_leads_need_id_borrower_id_needs", "needs", ["need_id", "borrower_id"], ["id", "borrower_id"]
        )
        batch_op.drop_index("ix_leads_pushed_at_covering")
        batch_op.create_index(
            "ix_leads_pushed_at_covering", ["pushed_at"], unique=False, postgresql_include=LEAD_COLUMNS
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_pushed_at_covering")
        batch_op.create_index(
            "ix_leads_pushed_at_covering", ["pushed_at"], unique=False, postgresql_include=OLD_LEAD_COLUMNS
        )
        batch_op.drop_constraint("fk_leads_need_id_borrower_id_needs", type_="foreignkey")
        batch_op.drop_column("borrower_id")

    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_needs_id_borrower_id"), type_="unique")
