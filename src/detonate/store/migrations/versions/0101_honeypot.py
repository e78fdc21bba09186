"""honeypot sessions, requests and deployments (issue 13)

Revision ID: 0101
Revises: 0001

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "honeypot_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("honeypot", sa.String(length=128), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("evidence_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_honeypot_sessions_source",
        "honeypot_sessions",
        ["honeypot", "source_ip", "last_seen"],
    )
    op.create_index("ix_honeypot_sessions_first_seen", "honeypot_sessions", ["first_seen"])
    op.create_table(
        "honeypot_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_port", sa.Integer(), nullable=False),
        sa.Column("local_port", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("api_version", sa.String(length=8), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("headers_json", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_encoding", sa.String(length=8), nullable=False),
        sa.Column("body_size", sa.Integer(), nullable=False),
        sa.Column("body_truncated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["honeypot_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_honeypot_requests_session_id", "honeypot_requests", ["session_id"])
    op.create_index("ix_honeypot_requests_at", "honeypot_requests", ["at"])
    op.create_table(
        "honeypot_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("container_id", sa.String(length=64), nullable=False),
        sa.Column("image", sa.String(length=1024), nullable=False),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("escape_intent_json", sa.Text(), nullable=False),
        sa.Column("decoded_json", sa.Text(), nullable=False),
        sa.Column("profile", sa.String(length=32), nullable=False),
        sa.Column("scan_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["honeypot_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_honeypot_deployments_session_id", "honeypot_deployments", ["session_id"])
    op.create_index("ix_honeypot_deployments_at", "honeypot_deployments", ["at"])
    op.create_index("ix_honeypot_deployments_scan_id", "honeypot_deployments", ["scan_id"])
    op.create_table(
        "honeypot_starts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("honeypot", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ports", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_honeypot_starts_honeypot", "honeypot_starts", ["honeypot"])


def downgrade() -> None:
    op.drop_table("honeypot_starts")
    op.drop_table("honeypot_deployments")
    op.drop_table("honeypot_requests")
    op.drop_table("honeypot_sessions")
