"""stored columns for the statistics, computed by the database: `leads.claim_us` (whole microseconds
from push to claim, NULL until claimed), carried by the covering index of leads by push time so that
the median time to claim sorts a narrow integer; and `borrowers.industry_section` (the GB/T 4754
section of `industry_code`), so that the breakdown by industry does not evaluate the section's
expression for every joined row. Both are generated columns (STORED): the database recomputes them
whenever their inputs are written, so they can never disagree with the raw rows.

The expressions are frozen here as they were when this revision was written (matching.sqlfuncs
duration_us, credit_profile.models industry_section_sql).

Revision ID: 7d2a9c4e1f86
Revises: 5b7e1c9d3a60
Create Date: 2026-12-04 20:50:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "7d2a9c4e1f86"
down_revision: Union[str, Sequence[str], None] = "5b7e1c9d3a60"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_LEAD_COLUMNS = (
    "id", "need_id", "borrower_id", "institution_id", "product_id", "status", "claimed_at", "sla_due_at",
)  # fmt: skip
LEAD_COLUMNS = (*OLD_LEAD_COLUMNS, "claim_us")
SECTIONS = "ABCDEFGHIJKLMNOPQRST"
DIVISION_RANGES = (
    ("A", 1, 5), ("B", 6, 12), ("C", 13, 43), ("D", 44, 46), ("E", 47, 50), ("F", 51, 52), ("G", 53, 60),
    ("H", 61, 62), ("I", 63, 65), ("J", 66, 69), ("K", 70, 70), ("L", 71, 72), ("M", 73, 75), ("N", 76, 79),
    ("O", 80, 82), ("P", 83, 83), ("Q", 84, 85), ("R", 86, 90), ("S", 91, 96), ("T", 97, 97),
)  # fmt: skip


def claim_us_sql(dialect: str) -> str:
    if dialect == "postgresql":
        # EXTRACT(EPOCH ...) is numeric (exact to the microsecond) since PostgreSQL 14.
        return "CAST(EXTRACT(EPOCH FROM (claimed_at - pushed_at)) * 1000000 AS BIGINT)"

    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds from strftime, the fraction from the text.
    def micros(ts: str) -> str:
        return (
            f"(CAST(strftime('%s', {ts}) AS INTEGER) * 1000000 "
            f"+ CAST(round(CAST(substr({ts}, 20) AS REAL) * 1000000) AS INTEGER))"
        )

    return f"({micros('claimed_at')} - {micros('pushed_at')})"


def industry_section_sql() -> str:
    letters = ", ".join(f"'{s}'" for s in SECTIONS)
    first = "substr(industry_code, 1, 1)"
    division = f"CASE WHEN {first} IN ({letters}) THEN substr(industry_code, 2, 2) ELSE substr(industry_code, 1, 2) END"
    by_division = " ".join(
        f"WHEN ({division}) BETWEEN '{lo:02d}' AND '{hi:02d}' THEN '{letter}'"
        for letter, lo, hi in DIVISION_RANGES
    )
    return (
        f"CASE WHEN length(industry_code) = 1 THEN CASE WHEN {first} IN ({letters}) THEN {first} ELSE NULL END "
        f"WHEN length({division}) != 2 THEN NULL "
        f"ELSE CASE {by_division} ELSE NULL END END"
    )


def upgrade() -> None:
    """Upgrade schema."""
    dialect = op.get_bind().dialect.name
    # SQLite cannot add a STORED generated column to a table: batch mode copies the table instead.
    recreate = "always" if dialect == "sqlite" else "auto"
    with op.batch_alter_table("leads", schema=None, recreate=recreate) as batch_op:
        batch_op.add_column(
            sa.Column(
                "claim_us", sa.BigInteger(), sa.Computed(claim_us_sql(dialect), persisted=True), nullable=True
            )
        )
        batch_op.drop_index("ix_leads_pushed_at_covering")
        batch_op.create_index(
            "ix_leads_pushed_at_covering", ["pushed_at"], unique=False, postgresql_include=LEAD_COLUMNS
        )
    with op.batch_alter_table("borrowers", schema=None, recreate=recreate) as batch_op:
        batch_op.add_column(
            sa.Column(
                "industry_section",
                sa.String(length=1),
                sa.Computed(industry_section_sql(), persisted=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.drop_column("industry_section")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_pushed_at_covering")
        batch_op.create_index(
            "ix_leads_pushed_at_covering", ["pushed_at"], unique=False, postgresql_include=OLD_LEAD_COLUMNS
        )
        batch_op.drop_column("claim_us")
