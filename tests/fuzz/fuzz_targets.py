"""The fuzz targets: name → module (tests/fuzz/fuzz_<module>.py), what atheris instruments for
coverage, and the largest input it generates. Importing this imports no parser."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    instrument: tuple[str, ...]  # packages whose code guides the fuzzer
    max_len: int = 4096
    # modules left uninstrumented: code another target fuzzes, whose per-byte tracing would
    # cost most of this target's time without guiding it where this target matters
    exclude: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # libFuzzer's own, added by benchmarks/fuzz.py

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


_DETONATE = ("detonate",)
# The report renderers' inputs are 12 fields cut at a 3-byte separator the fuzzer rarely writes
# by chance, and their code hardly branches on the strings (report_sarif: cov 102 from the first
# input on), so coverage cannot tell a 12-field input from a 1-byte one: the 12-field seeds are
# kept as inputs to mutate and a dictionary supplies the separator and the characters to escape.
_REPORT_FLAGS = ("-keep_seed=1", f"-dict={Path(__file__).resolve().parent / 'report.dict'}")
TARGETS = {
    t.name: t
    for t in (
        # char-by-char parsers run ~30x slower instrumented: short inputs keep exec/s up
        Target("strace_lines", "fuzz_strace_lines", _DETONATE, 1024),
        # the line parser is strace_lines' target; traced here it took 85% of the time
        Target(
            "trace_interpreter",
            "fuzz_trace_interpreter",
            _DETONATE,
            4096,
            exclude=("detonate.sandbox.tracing.strace.lines",),
        ),
        Target("unpacker", "fuzz_unpacker", ("detonate", "tarfile", "gzip"), 16384),
        Target("image_manifest", "fuzz_image_manifest", _DETONATE, 8192),
        Target("image_user", "fuzz_image_user", _DETONATE, 2048),
        Target("static_indicators", "fuzz_static_indicators", _DETONATE, 4096),
        Target("netsim_dns", "fuzz_netsim_dns", ("detonate", "dnslib"), 1024),
        Target("netsim_http", "fuzz_netsim_http", _DETONATE),
        Target("netsim_tls", "fuzz_netsim_tls", _DETONATE, 2048),
        Target("netsim_stratum", "fuzz_netsim_stratum", _DETONATE),
        Target("netsim_irc", "fuzz_netsim_irc", _DETONATE),
        Target("netsim_docker", "fuzz_netsim_docker", _DETONATE),
        Target("honeypot", "fuzz_honeypot", _DETONATE),
        Target("suppressions", "fuzz_suppressions", ("detonate", "yaml"), 2048),
        Target("report_html", "fuzz_report_html", _DETONATE, flags=_REPORT_FLAGS),
        Target("report_sarif", "fuzz_report_sarif", _DETONATE, flags=_REPORT_FLAGS),
        # rich traced ran 86 exec/s (its layout is 95% of the time) against 340 untraced. The
        # corpus its traced runs grew (rich's markup, control and wrap branches) is kept whole
        # as the inputs to mutate: untraced, libFuzzer would keep only the 9 that add coverage
        Target("report_terminal", "fuzz_report_terminal", _DETONATE, flags=_REPORT_FLAGS),
    )
}
