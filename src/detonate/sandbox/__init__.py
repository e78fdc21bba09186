"""sandbox: run the image in runc, trace it (sandbox/tracing: strace today), turn what the
tracer saw into events.

detonate(image, rootfs, options, work_dir, progress, network=None) -> RunResult
"""

from detonate.sandbox.run import detonate

__all__ = ["detonate"]
