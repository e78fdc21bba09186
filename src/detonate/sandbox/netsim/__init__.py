"""The simulated internet: a namespace the sample can talk to and never leave.

`Simulator` implements `detonate.sandbox.network.NetworkHook`; `cleanup_orphans()` removes what
runs whose analyser died left behind (safe beside live runs); `cleanup_leftovers()` removes every
simulator namespace (only when no run is active).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detonate.sandbox.netsim.config import NetsimConfig
    from detonate.sandbox.netsim.simulator import Simulator
    from detonate.sandbox.netsim.topology import cleanup_leftovers, cleanup_orphans

__all__ = ["NetsimConfig", "Simulator", "cleanup_leftovers", "cleanup_orphans"]

# Imported on first use: the services process (`python -m detonate.sandbox.netsim.serve`)
# passes through this package and needs none of the analyser's side (topology pulls in the
# sandbox's leftovers, overlay and unpack modules); its start-up is part of every run's setup.
_HOMES = {
    "NetsimConfig": "detonate.sandbox.netsim.config",
    "Simulator": "detonate.sandbox.netsim.simulator",
    "cleanup_leftovers": "detonate.sandbox.netsim.topology",
    "cleanup_orphans": "detonate.sandbox.netsim.topology",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
