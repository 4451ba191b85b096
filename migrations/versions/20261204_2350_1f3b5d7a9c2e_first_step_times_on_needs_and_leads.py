"""the first time a lead reached a step, on leads (`contacted_at`, `approved_at`, `decided_at`: the first
'contacted', 'approved', and 'approved' or 'rejected' status event of the lead) and on needs
(`contacted_at`, `approved_at`: the first such event of any of its leads), written by a trigger on
status_events whenever a lead's event is inserted (events are append-only), and filled here from the
events already recorded. The funnel and the institutions' board read them from the covering date
indexes instead of probing the events for each need and lead.

Revision ID: 1f3b5d7a9c2e
Revises: 83efecc28304
Create Date: 2026-12-04 23:50:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "1f3b5d7a9c2e"
down_revision: Union[str, Sequence[str], None] = "83efecc28304"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COPIES = ("region_code", "borrower_kind", "industry_section")
NEED_COLUMNS = ("id", "borrower_id", "amount", "is_renewal", "status", *COPIES)
LEAD_COLUMNS = (
    "id", "need_id", "borrower_id", "institution_id", "product_id", "status", "claimed_at", "sla_due_at",
    "claim_us", *COPIES,
)  # fmt: skip
# column -> the events' to_status it is the first of
LEAD_STEPS = {
    "contacted_at": ("contacted",),
    "approved_at": ("approved",),
    "decided_at": ("approved", "rejected"),
}
NEED_STEPS = {"contacted_at": ("contacted",), "approved_at": ("approved",)}


def _statuses(statuses: tuple[str, ...]) -> str:
    return ", ".join(f"'{s}'" for s in statuses)


def _assignments(steps: dict[str, tuple[str, ...]], earliest: str) -> str:
    """`column = the earlier of its value and the new event's time` when the event is of its step."""
    return ", ".join(
        f"{column} = CASE WHEN NEW.to_status IN ({_statuses(statuses)}) "
        f"THEN {earliest.format(column=column)} ELSE {column} END"
        for column, statuses in steps.items()
    )


# PostgreSQL's LEAST ignores NULLs; SQLite's min() of a NULL is NULL, hence the coalesce there.
PG_EARLIEST = "LEAST({column}, NEW.at)"
SQLITE_EARLIEST = "min(coalesce({column}, NEW.at), NEW.at)"
WATCHED = ("contacted", "approved", "rejected")

# Built from this module's constants only.
PG_FUNCTION = f"""
CREATE FUNCTION status_events_first_steps() RETURNS trigger AS $$
BEGIN
    UPDATE leads SET {_assignments(LEAD_STEPS, PG_EARLIEST)} WHERE id = NEW.entity_id;
    IF NEW.to_status IN ('contacted', 'approved') AND NEW.need_id IS NOT NULL THEN
        UPDATE needs SET {_assignments(NEED_STEPS, PG_EARLIEST)} WHERE id = NEW.need_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""  # noqa: S608
PG_TRIGGER = f"""
CREATE TRIGGER status_events_first_steps AFTER INSERT ON status_events
FOR EACH ROW WHEN (NEW.entity_type = 'lead' AND NEW.to_status IN ({_statuses(WATCHED)}))
EXECUTE FUNCTION status_events_first_steps()
"""
SQLITE_TRIGGER = f"""
CREATE TRIGGER status_events_first_steps AFTER INSERT ON status_events
WHEN NEW.entity_type = 'lead' AND NEW.to_status IN ({_statuses(WATCHED)})
BEGIN
    UPDATE leads SET {_assignments(LEAD_STEPS, SQLITE_EARLIEST)} WHERE id = NEW.entity_id;
    UPDATE needs SET {_assignments(NEED_STEPS, SQLITE_EARLIEST)}
    WHERE id = NEW.need_id AND NEW.to_status IN ('contacted', 'approved');
END
"""  # noqa: S608


def _backfill(table: str, key: str, steps: dict[str, tuple[str, ...]]) -> None:
    """Each row's first times from the events already recorded, in one set-based UPDATE (a correlated
    subquery per row and column took 9 minutes on the bench database's 2M leads and 6M events)."""
    firsts = ", ".join(
        f"min(CASE WHEN to_status IN ({_statuses(statuses)}) THEN at END) AS {column}"
        for column, statuses in steps.items()
    )
    assignments = ", ".join(f"{column} = f.{column}" for column in steps)
    # `table`, `key` and the columns are this module's constants.
    op.execute(
        f"UPDATE {table} SET {assignments} FROM (SELECT {key} AS id, {firsts} FROM status_events "  # noqa: S608
        f"WHERE entity_type = 'lead' AND {key} IS NOT NULL GROUP BY {key}) AS f WHERE f.id = {table}.id"
    )


def upgrade() -> None:
    """Upgrade schema."""
    dialect = op.get_bind().dialect.name
    # Plain ALTER TABLE on both databases (batch mode would copy SQLite's tables, generated columns and all).
    for column in LEAD_STEPS:
        op.add_column("leads", sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    for column in NEED_STEPS:
        op.add_column("needs", sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    _backfill("leads", "entity_id", LEAD_STEPS)
    _backfill("needs", "need_id", NEED_STEPS)
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)
    op.drop_index("ix_needs_submitted_at_covering", table_name="needs")
    op.create_index(
        "ix_needs_submitted_at_covering",
        "needs",
        ["submitted_at"],
        postgresql_include=(*NEED_COLUMNS, *NEED_STEPS),
    )
    op.drop_index("ix_leads_pushed_at_covering", table_name="leads")
    op.create_index(
        "ix_leads_pushed_at_covering", "leads", ["pushed_at"], postgresql_include=(*LEAD_COLUMNS, *LEAD_STEPS)
    )


def downgrade() -> None:
    """Downgrade schema."""
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_leads_pushed_at_covering", table_name="leads")
    op.create_index("ix_leads_pushed_at_covering", "leads", ["pushed_at"], postgresql_include=LEAD_COLUMNS)
    op.drop_index("ix_needs_submitted_at_covering", table_name="needs")
    op.create_index(
        "ix_needs_submitted_at_covering", "needs", ["submitted_at"], postgresql_include=NEED_COLUMNS
    )
    if dialect == "postgresql":
        op.execute("DROP TRIGGER status_events_first_steps ON status_events")
        op.execute("DROP FUNCTION status_events_first_steps()")
    else:
        op.execute("DROP TRIGGER status_events_first_steps")
    for column in reversed(NEED_STEPS):
        op.drop_column("needs", column)
    for column in reversed(LEAD_STEPS):
        op.drop_column("leads", column)
