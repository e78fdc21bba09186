"""detonate: dynamic threat analysis for container images."""

__version__ = "0.1.0"
