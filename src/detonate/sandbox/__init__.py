"""sandbox: run the image in runc, trace it with strace, turn the trace into events.

detonate(image, rootfs, options, work_dir, progress, network=None) -> RunResult
"""

from detonate.sandbox.run import detonate

__all__ = ["detonate"]
