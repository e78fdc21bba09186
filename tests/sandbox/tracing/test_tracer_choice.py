"""The tracer is chosen once, by name (SandboxOptions.tracer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from detonate.errors import SandboxError
from detonate.sandbox.tracing import TRACERS, open_tracer
from detonate.sandbox.tracing.interface import Tracer, TracerError
from detonate.sandbox.tracing.strace.tracer import StraceTracer

from .proc_tracer import ProcTracer


def test_strace_is_the_default_and_writes_in_the_run_directory(tmp_path: Path) -> None:
    tracer = open_tracer("strace", tmp_path)
    assert isinstance(tracer, StraceTracer) and tracer.name == "strace"
    assert tracer.trace_file.parent == tmp_path
    assert not tracer.running() and not tracer.limit_reached() and tracer.activity() == 0
    tracer.stop()  # before attach: nothing to stop, no error


def test_an_unknown_tracer_is_a_sandbox_error_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(TracerError, match=r"unknown tracer 'ebpf'.*strace") as raised:
        open_tracer("ebpf", tmp_path)
    assert isinstance(raised.value, SandboxError)


def test_a_second_tracer_is_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TRACERS, "proc", ProcTracer)
    tracer: Tracer = open_tracer("proc", tmp_path)
    assert isinstance(tracer, ProcTracer)
    with pytest.raises(TracerError):
        tracer.attach(2**22 + 1)  # above pid_max: no such process


def test_the_strace_cap_ends_the_run_at_its_size(tmp_path: Path) -> None:
    tracer = StraceTracer(tmp_path, cap_bytes=10)
    tracer.trace_file.write_text("12345")
    assert not tracer.limit_reached()
    tracer.trace_file.write_text("1234567890")
    assert tracer.limit_reached()
