"""Bearer tokens from the store (`detonate token create NAME`) guard /api/*.

Authorization: Bearer dtn_3q2…
"""

from __future__ import annotations

from fastapi import Request

from detonate.service.errors import ApiError
from detonate.store import Store

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="detonate"'}
MAX_TOKEN_CHARS = 256


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "this API needs a bearer token", "missing_token", CHALLENGE)
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "the Authorization header must be 'Bearer TOKEN'", "bad_token", CHALLENGE
        )
    return token.strip()


def require_token(request: Request) -> None:
    """FastAPI dependency (sync: FastAPI runs it on a worker thread, the lookup blocks)."""
    token = bearer(request)
    store: Store = request.app.state.store
    if len(token) > MAX_TOKEN_CHARS or not store.check_token(token):
        raise ApiError(401, "the token is not valid", "bad_token", CHALLENGE)
