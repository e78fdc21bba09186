"""LimitExceeded errors that name the flag raising the limit."""

from __future__ import annotations

from detonate.errors import LimitExceeded


def flag_for(limit: str) -> str:
    """ "max_total_bytes" → "--max-total-bytes" (the CLI flag of each UnpackLimits field)."""
    return "--" + limit.replace("_", "-")


def limit_exceeded(limit: str, message: str) -> LimitExceeded:
    return LimitExceeded(
        message,
        f"if you trust this image, raise the limit with {flag_for(limit)}",
        limit=limit,
    )
