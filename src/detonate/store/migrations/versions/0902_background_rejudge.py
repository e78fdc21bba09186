"""re-judging stored runs in the background: claims per scan and the rulesets announced

Revision ID: 0902
Revises: 0901

`rejudge_marks`: one row per scan a background rejudge took (claimed under a lease, then done,
with the outcome) for one ruleset hash; `rejudge_rulesets`: the ruleset each service or worker
that re-judges in the background announced when it started (the last one announced wins).

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0902"
down_revision: str | Sequence[str] | None = "0901"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rejudge_marks",
        sa.Column("scan_id", sa.String(length=36), nullable=False),
        sa.Column("ruleset_hash", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("scan_id"),
    )
    op.create_index("ix_rejudge_marks_ruleset_hash", "rejudge_marks", ["ruleset_hash"])
    op.create_table(
        "rejudge_rulesets",
        sa.Column("ruleset_hash", sa.String(length=64), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("announced_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("ruleset_hash"),
    )


def downgrade() -> None:
    op.drop_table("rejudge_rulesets")
    op.drop_index("ix_rejudge_marks_ruleset_hash", table_name="rejudge_marks")
    op.drop_table("rejudge_marks")
