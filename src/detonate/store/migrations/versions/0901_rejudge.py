"""run records, dropped-file copies and verdict history, to re-judge stored scans (issue 9)

Revision ID: 0901
Revises: 0101

Scans done before this revision keep their verdict as their first judgement (with the
ruleset hash unknown, ""); they have no run record, so a rejudge reports them as such.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0901"
down_revision: str | Sequence[str] | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, no batch copy: on SQLite with foreign keys on, the copy's DROP TABLE
    # would cascade to the scans' findings, IOCs and artifacts. (SQLite adds and, from 3.35,
    # drops columns in place.) The server default fills the existing rows.
    op.add_column(
        "scans",
        sa.Column("judged_ruleset_hash", sa.String(length=64), nullable=False, server_default=""),
    )
    op.add_column("scans", sa.Column("rejudged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "judgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.String(length=36), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ruleset_hash", sa.String(length=64), nullable=False),
        sa.Column("tool_version", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("deciding_rule", sa.String(length=128), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_judgements_scan_id", "judgements", ["scan_id"])
    op.create_table(
        "run_records",
        sa.Column("scan_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("copies", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("scan_id"),
    )
    op.create_table(
        "dropped_file_copies",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    # The verdicts stored so far are their scans' first judgements.
    op.execute(
        "INSERT INTO judgements (scan_id, judged_at, kind, ruleset_hash, tool_version, verdict,"
        " score, deciding_rule, findings)"
        " SELECT s.id, s.finished_at, 'scan', '', s.tool_version, s.verdict,"
        " COALESCE(s.score, 0), s.deciding_rule,"
        " (SELECT COUNT(*) FROM findings f WHERE f.scan_id = s.id)"
        " FROM scans s WHERE s.verdict IS NOT NULL AND s.finished_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("dropped_file_copies")
    op.drop_table("run_records")
    op.drop_index("ix_judgements_scan_id", table_name="judgements")
    op.drop_table("judgements")
    op.drop_column("scans", "rejudged_at")
    op.drop_column("scans", "judged_ruleset_hash")
