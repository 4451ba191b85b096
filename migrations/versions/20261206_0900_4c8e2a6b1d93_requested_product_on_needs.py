"""the product an applicant applied for on a need (`needs.requested_product_id`): the first matching
round pushes the need to that product first when it is eligible.

Revision ID: 4c8e2a6b1d93
Revises: 4c8e2a7b1d93
Create Date: 2026-12-06 09:00:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "4c8e2a6b1d93"
down_revision: Union[str, Sequence[str], None] = "4c8e2a7b1d93"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


FK = "fk_needs_requested_product_id_products"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place: a batch rebuild cannot copy the computed columns of needs, and SQLite's ALTER takes
        # a column's REFERENCES but not a separate constraint.
        op.execute("ALTER TABLE needs ADD COLUMN requested_product_id INTEGER REFERENCES products (id)")
    else:
        op.add_column("needs", sa.Column("requested_product_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FK, "needs", "products", ["requested_product_id"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(FK, "needs", type_="foreignkey")
    op.drop_column("needs", "requested_product_id")
