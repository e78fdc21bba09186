"""The honeypot's tables, on the store's `Base` (migration 0101_honeypot creates them).

    honeypot_sessions ─┬─ honeypot_requests      (every request, whole up to a body limit)
                       └─ honeypot_deployments ── scans   (each deployment queues a scan)
    honeypot_starts   (when each honeypot began listening)

A session is one source address on one honeypot over a time window (`detonate honeypot
--session-window`). The address is stored raw so its country can be recomputed later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from detonate.store.models import Base


class HoneypotSession(Base):
    __tablename__ = "honeypot_sessions"
    __table_args__ = (Index("ix_honeypot_sessions_source", "honeypot", "source_ip", "last_seen"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    honeypot: Mapped[str] = mapped_column(String(128))  # its name: several may share a store
    source_ip: Mapped[str] = mapped_column(String(45))
    country: Mapped[str] = mapped_column(String(8), default="")  # ISO code, "" when unknown
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    evidence_json: Mapped[str] = mapped_column(Text, default="[]")  # decoded stages, notes


class HoneypotRequest(Base):
    __tablename__ = "honeypot_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("honeypot_sessions.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    source_port: Mapped[int] = mapped_column(Integer)
    local_port: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(2048))
    query: Mapped[str] = mapped_column(Text, default="")
    api_version: Mapped[str] = mapped_column(String(8), default="")
    operation: Mapped[str] = mapped_column(String(32), default="")
    headers_json: Mapped[str] = mapped_column(Text, default="[]")
    body: Mapped[str] = mapped_column(Text, default="")  # utf-8, or base64 when binary
    body_encoding: Mapped[str] = mapped_column(String(8), default="utf-8")
    body_size: Mapped[int] = mapped_column(Integer, default=0)  # bytes sent, before the limit
    body_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[int] = mapped_column(Integer)


class HoneypotDeployment(Base):
    """A container the attacker created (or a command it exec'd): the image as it was run."""

    __tablename__ = "honeypot_deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("honeypot_sessions.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "create" or "exec"
    container_id: Mapped[str] = mapped_column(String(64))
    image: Mapped[str] = mapped_column(String(1024))
    config_json: Mapped[str] = mapped_column(Text)  # entrypoint, cmd, env, user, binds, modes
    escape_intent_json: Mapped[str] = mapped_column(Text, default="[]")
    decoded_json: Mapped[str] = mapped_column(Text, default="[]")
    profile: Mapped[str] = mapped_column(String(32))
    scan_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


class HoneypotStart(Base):
    """When a honeypot began listening: the clock of "time to first attack"."""

    __tablename__ = "honeypot_starts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    honeypot: Mapped[str] = mapped_column(String(128), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ports: Mapped[str] = mapped_column(String(256), default="")  # "2375,4243,2376/tls"
