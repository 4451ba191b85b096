"""the monthly report's HTML (the screen edition, also the source of the PDF) and its PDF, stored on the
report row beside the workbook so that every web machine serves the same files.

Revision ID: 4c8e2a6f1b3d
Revises: 4c8e2a6b1d93
Create Date: 2026-12-06 09:00:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "4c8e2a6f1b3d"
down_revision: Union[str, Sequence[str], None] = "4c8e2a6b1d93"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("html", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pdf", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("pdf")
        batch.drop_column("html")
