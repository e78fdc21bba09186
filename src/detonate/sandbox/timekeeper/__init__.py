"""The time keeper: compresses every timed wait of the sample and keeps its clock consistent
(seccomp user notification through runc's `listenerPath`). See docs/sandbox.md, "Time"."""

from detonate.sandbox.timekeeper.keeper import CompressedWait, TimeKeeper

__all__ = ["CompressedWait", "TimeKeeper"]
