"""sandbox: run the image in runc, trace it (sandbox/tracing: strace today), turn what the
tracer saw into events.

detonate(image, rootfs, options, work_dir, progress, network=None) -> RunResult
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detonate.sandbox.run import detonate

__all__ = ["detonate"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the simulator's services process (`python -m
    # detonate.sandbox.netsim.serve`) passes through this package and must not pay a second
    # of importing the whole sandbox before it can answer.
    if name == "detonate":
        from detonate.sandbox.run import detonate

        return detonate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
