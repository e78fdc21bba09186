"""tracing: what the sample did, as typed events. `interface.Tracer` is the seam the sandbox
runs against; `strace/` is the implementation today."""
