"""the borrower's county, kind and industry on needs, leads and loans: copies of the borrower's
`region_code`, `kind` (as `borrower_kind`) and `industry_code`, with the industry's section computed
from the copied code, so that the statistics filter and group a window of rows by them without joining
the borrowers. A foreign key on (borrower_id, region_code, borrower_kind, industry_code) to a unique key
of the borrowers on the same columns, ON UPDATE CASCADE, keeps every copy equal to the borrower's: it
replaces the foreign keys on borrower_id alone. The covering indexes by date carry the copies.

The section's expression is frozen as it was when this revision was written (7d2a9c4e1f86).

Revision ID: 83efecc28304
Revises: 7d2a9c4e1f86
Create Date: 2026-12-04 23:30:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "83efecc28304"
down_revision: Union[str, Sequence[str], None] = "7d2a9c4e1f86"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SECTIONS = "ABCDEFGHIJKLMNOPQRST"
DIVISION_RANGES = (
    ("A", 1, 5), ("B", 6, 12), ("C", 13, 43), ("D", 44, 46), ("E", 47, 50), ("F", 51, 52), ("G", 53, 60),
    ("H", 61, 62), ("I", 63, 65), ("J", 66, 69), ("K", 70, 70), ("L", 71, 72), ("M", 73, 75), ("N", 76, 79),
    ("O", 80, 82), ("P", 83, 83), ("Q", 84, 85), ("R", 86, 90), ("S", 91, 96), ("T", 97, 97),
)  # fmt: skip
COPIES = ("region_code", "borrower_kind", "industry_section")
# table -> (its covering index, the date column it is ordered by, the columns it carried before)
COVERING = {
    "needs": ("ix_needs_submitted_at_covering", "submitted_at", ("id", "borrower_id", "amount", "is_renewal", "status")),
    "leads": (
        "ix_leads_pushed_at_covering",
        "pushed_at",
        ("id", "need_id", "borrower_id", "institution_id", "product_id", "status", "claimed_at", "sla_due_at",
         "claim_us"),
    ),
    "loans": (
        "ix_loans_disbursed_on_covering",
        "disbursed_on",
        ("id", "borrower_id", "institution_id", "product_id", "amount", "rate", "collateral",
         "first_loan_borrower", "renewal_without_repayment"),
    ),
}  # fmt: skip
# Needs and loans had a foreign key on borrower_id alone (leads reached the borrower through needs).
OLD_FOREIGN_KEYS = {"needs": "fk_needs_borrower_id_borrowers", "loans": "fk_loans_borrower_id_borrowers"}
BORROWER_KEY = "uq_borrowers_id_region_code_kind_industry_code"


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


def claim_us_column(dialect: str) -> sa.Column:
    """leads.claim_us as revision 7d2a9c4e1f86 made it."""
    if dialect == "postgresql":
        expression = "CAST(EXTRACT(EPOCH FROM (claimed_at - pushed_at)) * 1000000 AS BIGINT)"
    else:

        def micros(ts: str) -> str:
            return (
                f"(CAST(strftime('%s', {ts}) AS INTEGER) * 1000000 "
                f"+ CAST(round(CAST(substr({ts}, 20) AS REAL) * 1000000) AS INTEGER))"
            )

        expression = f"({micros('claimed_at')} - {micros('pushed_at')})"
    return sa.Column("claim_us", sa.BigInteger(), sa.Computed(expression, persisted=True), nullable=True)


def upgrade() -> None:
    """Upgrade schema."""
    dialect = op.get_bind().dialect.name
    # SQLite cannot add a STORED generated column to a table: batch mode copies the table instead.
    recreate = "always" if dialect == "sqlite" else "auto"
    # A unique index (not a constraint: SQLite would copy the table, generated column and all).
    op.create_index(BORROWER_KEY, "borrowers", ["id", "region_code", "kind", "industry_code"], unique=True)
    for table, (index, ordered_by, carried) in COVERING.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("region_code", sa.String(length=6), nullable=True))
            batch_op.add_column(sa.Column("borrower_kind", sa.String(length=24), nullable=True))
            batch_op.add_column(sa.Column("industry_code", sa.String(length=8), nullable=True))
        # `table` is one of this module's three constant names.
        op.execute(
            f"UPDATE {table} SET region_code = borrowers.region_code, borrower_kind = borrowers.kind, "  # noqa: S608
            f"industry_code = borrowers.industry_code FROM borrowers WHERE borrowers.id = {table}.borrower_id"
        )
        with op.batch_alter_table(table, schema=None, recreate=recreate) as batch_op:
            if table == "leads" and dialect == "sqlite":
                # The copy of the table cannot write the generated claim_us: SQLite recomputes it instead.
                batch_op.drop_column("claim_us")
                batch_op.add_column(claim_us_column(dialect))
            for name, length in (("region_code", 6), ("borrower_kind", 24), ("industry_code", 8)):
                batch_op.alter_column(name, existing_type=sa.String(length=length), nullable=False)
            batch_op.add_column(
                sa.Column(
                    "industry_section",
                    sa.String(length=1),
                    sa.Computed(industry_section_sql(), persisted=True),
                    nullable=True,
                )
            )
            if table in OLD_FOREIGN_KEYS:
                batch_op.drop_constraint(OLD_FOREIGN_KEYS[table], type_="foreignkey")
            batch_op.create_foreign_key(
                f"fk_{table}_borrower_id_borrowers",
                "borrowers",
                ["borrower_id", "region_code", "borrower_kind", "industry_code"],
                ["id", "region_code", "kind", "industry_code"],
                onupdate="CASCADE",
            )
            batch_op.drop_index(index)
            batch_op.create_index(index, [ordered_by], unique=False, postgresql_include=(*carried, *COPIES))


def downgrade() -> None:
    """Downgrade schema."""
    dialect = op.get_bind().dialect.name
    for table, (index, ordered_by, carried) in COVERING.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "leads" and dialect == "sqlite":
                batch_op.drop_column("claim_us")
                batch_op.add_column(claim_us_column(dialect))
            batch_op.drop_index(index)
            batch_op.create_index(index, [ordered_by], unique=False, postgresql_include=carried)
            batch_op.drop_constraint(f"fk_{table}_borrower_id_borrowers", type_="foreignkey")
            if table in OLD_FOREIGN_KEYS:
                batch_op.create_foreign_key(OLD_FOREIGN_KEYS[table], "borrowers", ["borrower_id"], ["id"])
            batch_op.drop_column("industry_section")
            batch_op.drop_column("industry_code")
            batch_op.drop_column("borrower_kind")
            batch_op.drop_column("region_code")
    op.drop_index(BORROWER_KEY, table_name="borrowers")
