"""Data provenance: where the bytes a run executed came from (detect/provenance/graph.py)."""

from detonate.detect.provenance.graph import (
    DECODED,
    HOST_FACTS,
    NETWORK,
    SECRET,
    Hop,
    Provenance,
    Sink,
    Taint,
    provenance_of,
)

__all__ = [
    "DECODED",
    "HOST_FACTS",
    "NETWORK",
    "SECRET",
    "Hop",
    "Provenance",
    "Sink",
    "Taint",
    "provenance_of",
]
