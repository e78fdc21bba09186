"""Data provenance: where the bytes a run executed came from (detect/provenance/graph.py)."""

from detonate.detect.provenance.graph import (
    DECODED,
    NETWORK,
    Hop,
    Provenance,
    Sink,
    Taint,
    provenance_of,
)

__all__ = ["DECODED", "NETWORK", "Hop", "Provenance", "Sink", "Taint", "provenance_of"]
