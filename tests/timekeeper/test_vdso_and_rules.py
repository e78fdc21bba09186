"""The vDSO layout read from the analyser's own vDSO, and the seccomp rules' shape."""

from __future__ import annotations

import struct
from typing import Any

from detonate.sandbox.seccomp_profile import DENIED
from detonate.sandbox.timekeeper import vdso
from detonate.sandbox.timekeeper.calls import NR, notify_rules
from detonate.sandbox.timekeeper.notify import OUR_SIZES, kernel_sizes


def test_this_kernels_vdso_has_the_clock_symbols_and_room_for_the_trampoline() -> None:
    span = vdso.vdso_range("self")
    assert span is not None
    layout = vdso.layout()
    assert layout is not None
    assert layout.trampoline % 16 == 0
    assert layout.trampoline + len(vdso.TRAMPOLINE) <= span[1] - span[0]
    assert {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time"} <= set(layout.values)
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        mem.seek(span[0])
        image = mem.read(span[1] - span[0])
    assert image[layout.trampoline :].strip(b"\0") == b""  # the tail is unused
    field_at, value = layout.values["__vdso_clock_gettime"]
    assert struct.unpack_from("<Q", image, field_at)[0] == value


def test_the_offset_block_splits_nanoseconds_as_the_trampoline_adds_them() -> None:
    assert struct.unpack("<qqq", vdso.offset_block(900_123_456_789)) == (900, 123_456_789, 123_456)


def test_hot_forms_are_filtered_in_the_kernel() -> None:
    """poll/epoll with a 0 timeout (Go's netpoller) and futex calls other than timed waits
    never reach the keeper: each rule for them carries its argument condition."""
    rules = notify_rules()
    by_name: dict[str, list[dict[str, Any]]] = {}
    for rule in rules:
        assert rule["action"] == "SCMP_ACT_NOTIFY"
        for name in rule["names"]:
            assert name in NR
            by_name.setdefault(name, []).append(rule)
    for name in ("poll", "epoll_wait", "epoll_pwait", "futex", "ppoll", "brk", "clock_gettime",
                 "recvfrom", "recvmsg"):  # fmt: skip
        assert all("args" in rule for rule in by_name[name]), name
    futex = [rule["args"] for rule in by_name["futex"]]
    assert all({arg["index"] for arg in args} == {1, 3} for args in futex)  # ANDed by runc


def test_our_notification_structures_have_the_kernels_sizes() -> None:
    assert kernel_sizes() == OUR_SIZES == (80, 24, 64)


def test_no_trapped_call_is_a_denied_one() -> None:
    """ERRNO outranks NOTIFY: a call in both would be denied, never answered."""
    assert not set(NR) & set(DENIED)
