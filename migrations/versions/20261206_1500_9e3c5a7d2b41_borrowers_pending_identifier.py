"""`borrowers.pending_identifier`: the resident ID or USCC a registration entered while another record
held it (encrypted like the identifiers). The borrower row of such a registration is written without
its identifier (no oracle, credit_profile.registration); at phone verification the identifier moves to
it when its holder is a registration that never verified its phone (an abandoned one).

Revision ID: 9e3c5a7d2b41
Revises: 5b7d9e1f3a24
Create Date: 2026-12-06 15:00:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "9e3c5a7d2b41"
down_revision: Union[str, Sequence[str], None] = "5b7d9e1f3a24"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


# Plain ALTER TABLE, not batch mode: on SQLite a batch copy of `borrowers` would write its generated
# column `industry_section`, which SQLite refuses; SQLite (3.35 and later) adds and drops a plain column.


def upgrade() -> None:
    op.add_column("borrowers", sa.Column("pending_identifier", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("borrowers", "pending_identifier")
