"""Parts the routers build once per app from its settings, store and queue, on first use.

    intake = shared(request, "push_intake", lambda app: PushIntake(...))

The routers are module-level (the app mounts `module.router`), so what they need cannot be
passed to them: it hangs on `app.state`, built under a lock the first time it is asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request

T = TypeVar("T")
_lock = threading.Lock()


def shared(request: Request, name: str, build: Callable[[FastAPI], T]) -> T:
    state = request.app.state
    found: Any = getattr(state, name, None)
    if found is None:
        with _lock:
            found = getattr(state, name, None)
            if found is None:
                found = build(request.app)
                setattr(state, name, found)
    return found  # type: ignore[no-any-return]
