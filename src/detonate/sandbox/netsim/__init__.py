"""The simulated internet: a namespace the sample can talk to and never leave.

`Simulator` implements `detonate.sandbox.network.NetworkHook`; `cleanup_leftovers()` removes
what crashed runs left behind.
"""

from detonate.sandbox.netsim.config import NetsimConfig
from detonate.sandbox.netsim.simulator import Simulator
from detonate.sandbox.netsim.topology import cleanup_leftovers

__all__ = ["NetsimConfig", "Simulator", "cleanup_leftovers"]
