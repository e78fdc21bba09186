"""The calls the time keeper traps (x86_64 numbers) and the seccomp rules that trap them.

None of them is among the calls the run's profile denies (seccomp_profile.py): when rules of
several actions match, the kernel takes the most restrictive (ERRNO before NOTIFY), so a
denied call stays denied. Arguments are filtered in the kernel where the ABI allows, so the hot
forms never reach the keeper: poll/epoll waits with a timeout of 0 (Go's netpoller asks that
all the time), futex calls other than timed FUTEX_WAIT/_WAIT_BITSET/_WAIT_REQUEUE_PI/_LOCK_PI(2),
pointer timeouts that are NULL, receives with MSG_DONTWAIT.
"""

from __future__ import annotations

from typing import Any

NR: dict[str, int] = {
    "poll": 7,
    "brk": 12,
    "select": 23,
    "nanosleep": 35,
    "alarm": 37,
    "recvfrom": 45,
    "recvmsg": 47,
    "setitimer": 38,
    "gettimeofday": 96,
    "rt_sigtimedwait": 128,
    "arch_prctl": 158,
    "time": 201,
    "futex": 202,
    "semtimedop": 220,
    "set_tid_address": 218,
    "timer_settime": 223,
    "timer_gettime": 224,
    "timer_getoverrun": 225,
    "timer_delete": 226,
    "clock_gettime": 228,
    "clock_nanosleep": 230,
    "epoll_wait": 232,
    "mq_timedsend": 242,
    "mq_timedreceive": 243,
    "pselect6": 270,
    "ppoll": 271,
    "epoll_pwait": 281,
    "timerfd_settime": 286,
    "epoll_pwait2": 441,
    "futex_waitv": 449,
}
NAME = {nr: name for name, nr in NR.items()}
AUDIT_ARCH_X86_64 = 0xC000003E
FUTEX_WAIT, FUTEX_WAIT_BITSET = 0, 9
FUTEX_LOCK_PI, FUTEX_LOCK_PI2 = 6, 13  # a priority-inheriting lock, with a deadline
FUTEX_WAIT_REQUEUE_PI = 11  # a condition variable's wait, then its PI mutex (absolute)
MSG_DONTWAIT = 0x40
FUTEX_CMD_BITS = 0x7F  # the op without FUTEX_PRIVATE_FLAG (128) / FUTEX_CLOCK_REALTIME (256)
CLOCK_ID_MAX = 11  # CLOCK_TAI; larger (and negative: per-process CPU clocks) are not traps


def _arg(index: int, op: str, value: int, value_two: int = 0) -> dict[str, Any]:
    return {"index": index, "value": value, "valueTwo": value_two, "op": op}


def notify_rules() -> list[dict[str, Any]]:
    """`linux.seccomp.syscalls` entries (runc: conditions on different arguments are ANDed)."""

    def rule(names: list[str], *args: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"names": names, "action": "SCMP_ACT_NOTIFY"}
        if args:
            entry["args"] = list(args)
        return entry

    return [
        rule(["nanosleep", "clock_nanosleep", "alarm", "setitimer", "timerfd_settime"]),
        # POSIX timers: set and read back in virtual time (overruns the keeper counted); a
        # deletion drops the keeper's
        rule(["timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete"]),
        rule(["gettimeofday", "time"]),
        rule(["arch_prctl", "set_tid_address"]),  # a new program's first calls: patch its vDSO
        rule(["brk"], _arg(0, "SCMP_CMP_EQ", 0)),  # brk(NULL): glibc's loader's first call
        rule(["clock_gettime"], _arg(0, "SCMP_CMP_LE", CLOCK_ID_MAX)),
        # int timeouts in ms: > 0 (-1, "forever", comes as 0xffffffff and is let through
        # by the keeper at once)
        rule(["poll"], _arg(2, "SCMP_CMP_GT", 0)),
        rule(["epoll_wait", "epoll_pwait"], _arg(3, "SCMP_CMP_GT", 0)),
        # pointer timeouts: non-NULL
        rule(["ppoll"], _arg(2, "SCMP_CMP_NE", 0)),
        rule(["select", "pselect6"], _arg(4, "SCMP_CMP_NE", 0)),
        rule(["epoll_pwait2"], _arg(3, "SCMP_CMP_NE", 0)),
        rule(["rt_sigtimedwait"], _arg(2, "SCMP_CMP_NE", 0)),
        # SysV semaphores (relative), POSIX message queues and futex_waitv (absolute)
        rule(["semtimedop", "futex_waitv"], _arg(3, "SCMP_CMP_NE", 0)),
        rule(["mq_timedsend", "mq_timedreceive"], _arg(4, "SCMP_CMP_NE", 0)),
        # blocking receives (the flags without MSG_DONTWAIT): a socket with SO_RCVTIMEO
        rule(["recvfrom"], _arg(3, "SCMP_CMP_MASKED_EQ", MSG_DONTWAIT, 0)),
        rule(["recvmsg"], _arg(2, "SCMP_CMP_MASKED_EQ", MSG_DONTWAIT, 0)),
        *(
            rule(
                ["futex"],
                _arg(1, "SCMP_CMP_MASKED_EQ", FUTEX_CMD_BITS, cmd),
                _arg(3, "SCMP_CMP_NE", 0),
            )
            for cmd in (
                FUTEX_WAIT,
                FUTEX_WAIT_BITSET,
                FUTEX_WAIT_REQUEUE_PI,
                FUTEX_LOCK_PI,
                FUTEX_LOCK_PI2,
            )
        ),
    ]
