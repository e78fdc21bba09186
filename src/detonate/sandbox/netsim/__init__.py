"""The simulated internet: a namespace the sample can talk to and never leave.

`Simulator` implements `detonate.sandbox.network.NetworkHook`; `cleanup_orphans()` removes what
runs whose analyser died left behind (safe beside live runs); `cleanup_leftovers()` removes every
simulator namespace (only when no run is active).
"""

from detonate.sandbox.netsim.config import NetsimConfig
from detonate.sandbox.netsim.simulator import Simulator
from detonate.sandbox.netsim.topology import cleanup_leftovers, cleanup_orphans

__all__ = ["NetsimConfig", "Simulator", "cleanup_leftovers", "cleanup_orphans"]
