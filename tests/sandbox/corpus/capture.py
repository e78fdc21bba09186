"""Re-capture the parser corpus: run each scenario in the real sandbox, keep its strace output.

    sudo .venv/bin/python tests/sandbox/corpus/capture.py [NAME …]

Writes <name>.strace and <name>.json (init pid, container start time, the init's fds 0-2 as
/proc showed them at attach) next to this file; all scenarios, or the NAMEs given.
The corpus is real output of this machine's strace 6.1 + runc 1.1; tests parse it offline.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent))

from detonate.model.filesystem import Rootfs  # noqa: E402
from detonate.sandbox import run as run_module  # noqa: E402
from detonate.sandbox.tracing.interface import TraceContext  # noqa: E402
from detonate.sandbox.tracing.strace.tracer import StraceTracer  # noqa: E402
from sandbox import scenarios  # noqa: E402
from sandbox.busybox_image import FAST, PROGRESS, build_busybox_rootfs, image_running  # noqa: E402

CAPTURED = {
    "delayed_payload": scenarios.DELAYED_PAYLOAD,
    "process_tree": scenarios.PROCESS_TREE,
    "file_operations": scenarios.FILE_OPERATIONS,
    "network": scenarios.NETWORK,
    "privileged": scenarios.PRIVILEGED,
    "pipes_and_signals": scenarios.PIPES_AND_SIGNALS,
}


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="detonate-corpus-"))
    root = build_busybox_rootfs(base / "rootfs")
    seen: dict[str, object] = {}
    original = StraceTracer.summary

    def keep(self: StraceTracer, context: TraceContext):  # type: ignore[no-untyped-def]
        seen.update(t0=context.t0, init_pid=self._init_pid, trace=self.trace_file)
        seen.update(fds=self._init_fds)
        return original(self, context)

    StraceTracer.summary = keep  # type: ignore[method-assign]
    wanted = sys.argv[1:] or list(CAPTURED)
    for name, script in CAPTURED.items():
        if name not in wanted:
            continue
        run_module.detonate(
            image_running("/bin/sh", "-c", script), Rootfs(root, ()), FAST, base / name, PROGRESS
        )
        shutil.copy(str(seen["trace"]), HERE / f"{name}.strace")
        meta = {"init_pid": seen["init_pid"], "t0": seen["t0"], "script": script}
        meta["init_fds"] = {str(fd): link for fd, link in seen["fds"].items()}
        (HERE / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(name, (HERE / f"{name}.strace").stat().st_size, "bytes")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
