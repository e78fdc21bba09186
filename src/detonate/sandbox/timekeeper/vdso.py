"""Clock reads that never enter the kernel: the vDSO, made to add the skipped time itself.

A program reads the clock through the vDSO, code the kernel maps into every process, without a
system call, so neither strace nor seccomp sees it. Right after an exec (at the new program's
first arch_prctl/set_tid_address/brk(NULL), which glibc's and musl's loaders and Go's runtime
make before they look up the vDSO's symbols) the keeper writes into that process's vDSO:

- a trampoline (below) into the unused tail of the vDSO image, after its section headers,
  with a data block in front: the offset (skipped seconds, nanoseconds, microseconds) and the
  addresses of the original `clock_gettime` and `gettimeofday`;
- the dynamic symbols `clock_gettime`/`__vdso_clock_gettime`, `gettimeofday`/`__vdso_…` and
  `time`/`__vdso_time` pointed at the trampoline's entries.

The trampoline calls the original function and adds the offset for CLOCK_REALTIME, MONOTONIC,
MONOTONIC_RAW, REALTIME_COARSE, MONOTONIC_COARSE, BOOTTIME, the _ALARM clocks and TAI (CPU
clocks stay real). A read costs what it did (no trap, no tracer stop); when time jumps the
keeper rewrites the data block in every process of the sample. The writes go through
/proc/PID/mem, which copies the vDSO pages for that process only; children inherit the copy,
an exec gets a fresh vDSO. Source (GNU as), assembled into TRAMPOLINE:

    off_sec: .quad 0;  off_nsec: .quad 0;  off_usec: .quad 0
    orig_cgt: .quad 0; orig_gtod: .quad 0
    cgt:  push %rdi; push %rsi; sub $8,%rsp; call *orig_cgt(%rip); add $8,%rsp
          pop %rsi; pop %rdi; test %eax,%eax; jnz 1f
          cmp $11,%edi; ja 1f; mov $0xBF3,%ecx; bt %edi,%ecx; jnc 1f     # virtual clocks
          mov off_sec(%rip),%rcx; add %rcx,(%rsi)
          mov 8(%rsi),%rcx; add off_nsec(%rip),%rcx; cmp $1000000000,%rcx; jb 2f
          sub $1000000000,%rcx; incq (%rsi)
      2:  mov %rcx,8(%rsi)
      1:  ret
    gtod: (the same around orig_gtod for a non-NULL struct timeval, with off_usec)
    time: push %rdi; sub $16,%rsp; xor %edi,%edi; mov %rsp,%rsi; call cgt
          mov (%rsp),%rax; add $16,%rsp; pop %rdi; test %rdi,%rdi; jz 1f; mov %rax,(%rdi)
      1:  ret

Symbols are read from the analyser's own vDSO (the kernel maps the same image into every
process):

    Num:    Value          Size Type    Bind   Vis      Ndx Name
      9: 0000000000000b10   902 FUNC    GLOBAL DEFAULT   12 __vdso_clock_gettime@@LINUX_2.6
"""

from __future__ import annotations

import contextlib
import functools
import struct
from dataclasses import dataclass

from detonate.sandbox.timekeeper import memory

TRAMPOLINE = bytes.fromhex(
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000057564883"
    "ec08ff15e4ffffff4883c4085e5f85c0753b83ff0b7736b9f30b00000fa3f9732c488b0dacffffff48010e48"
    "8b4e0848030da6ffffff4881f900ca9a3b720a4881e900ca9a3b48ff0648894e08c357564883ec08ff159aff"
    "ffff4883c4085e5f85c075314885ff742c488b0d64ffffff48010f488b4f0848030d66ffffff4881f940420f"
    "00720a4881e940420f0048ff0748894f08c3574883ec1031ff4889e6e857ffffff488b04244883c4105f4885"
    "ff7403488907c3"
)
ORIG_CGT, ORIG_GTOD = 24, 32  # data block: where the originals' addresses go
ENTRIES = {"clock_gettime": 0x28, "gettimeofday": 0x7A, "time": 0xC2}
SYMBOLS = {  # vDSO symbol → trampoline entry
    "clock_gettime": "clock_gettime",
    "__vdso_clock_gettime": "clock_gettime",
    "gettimeofday": "gettimeofday",
    "__vdso_gettimeofday": "gettimeofday",
    "time": "time",
    "__vdso_time": "time",
}
SHT_DYNSYM = 11
NS = 1_000_000_000


@dataclass(frozen=True)
class Layout:
    """Where things are in this kernel's vDSO image (offsets from its start)."""

    trampoline: int  # the unused tail where the trampoline goes
    values: dict[str, tuple[int, int]]  # symbol → (offset of its st_value field, its value)


def vdso_range(pid: int | str) -> tuple[int, int] | None:
    """[vdso] in /proc/PID/maps: `7ffd3a5f2000-7ffd3a5f4000 r-xp 00000000 00:00 0  [vdso]`"""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            for line in maps:
                if line.rstrip().endswith("[vdso]"):
                    low, high = line.split()[0].split("-")
                    return int(low, 16), int(high, 16)
    except OSError:
        return None
    return None


def layout_of(image: bytes) -> Layout | None:
    """The symbols to repoint and the free tail of a vDSO ELF64 image; None when the image
    has no room or lacks clock_gettime."""
    (shoff,) = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", image, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", image, shoff + i * shentsize)
                for i in range(shnum)]  # fmt: skip
    used = shoff + shnum * shentsize
    values: dict[str, tuple[int, int]] = {}
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        used = max(used, offset + size) if kind != 8 else used  # SHT_NOBITS takes no room
        if kind != SHT_DYNSYM or not entsize:
            continue
        strtab = sections[link][4]
        for i in range(size // entsize):
            entry = offset + i * entsize
            name_at, info, _, _, value, _ = struct.unpack_from("<IBBHQQ", image, entry)
            end = image.index(b"\0", strtab + name_at)
            name = image[strtab + name_at : end].decode()
            if info & 0xF == 2 and name in SYMBOLS:  # STT_FUNC
                values[name] = (entry + 8, value)
    start = (used + 15) & ~15
    if start + len(TRAMPOLINE) > len(image) or "__vdso_clock_gettime" not in values:
        return None
    return Layout(start, values)


@functools.cache
def layout() -> Layout | None:
    span = vdso_range("self")
    if span is None:
        return None
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        mem.seek(span[0])
        return layout_of(mem.read(span[1] - span[0]))


def offset_block(offset_ns: int) -> bytes:
    """off_sec, off_nsec, off_usec as the trampoline reads them."""
    sec, ns = divmod(offset_ns, NS)
    return struct.pack("<qqq", sec, ns, ns // 1000)


def _patched(pid: int, base: int, plan: Layout) -> bool:
    field_at, _ = plan.values["__vdso_clock_gettime"]
    (value,) = struct.unpack("<Q", memory.read(pid, base + field_at, 8))
    return bool(value == plan.trampoline + ENTRIES["clock_gettime"])


def patched(pid: int) -> bool:
    """Whether `pid`'s vDSO carries the trampoline already (not so for a program just exec'd)."""
    plan = layout()
    span = vdso_range(pid)
    if plan is None or span is None:
        return False
    with contextlib.suppress(OSError):
        return _patched(pid, span[0], plan)
    return False


def patch(pid: int, offset_ns: int) -> tuple[int, int] | None:
    """Point `pid`'s vDSO clock symbols at the trampoline (once per exec); returns the vDSO's
    range, None when impossible (no vDSO, no room, the process is gone)."""
    plan = layout()
    span = vdso_range(pid)
    if plan is None or span is None:
        return None
    base = span[0]
    with contextlib.suppress(OSError):
        if _patched(pid, base, plan):
            return span
        code = bytearray(TRAMPOLINE)
        code[:24] = offset_block(offset_ns)
        originals = {SYMBOLS[name]: value for name, (_, value) in plan.values.items()}
        for entry, slot in (("clock_gettime", ORIG_CGT), ("gettimeofday", ORIG_GTOD)):
            if entry in originals:
                code[slot : slot + 8] = struct.pack("<Q", base + originals[entry])
        memory.write(pid, base + plan.trampoline, bytes(code))
        for name, (field_at, _) in plan.values.items():
            target = plan.trampoline + ENTRIES[SYMBOLS[name]]
            memory.write(pid, base + field_at, struct.pack("<Q", target))
        return span
    return None


def set_offset(pid: int, offset_ns: int, span: tuple[int, int] | None = None) -> bool:
    """Tell a patched process the new offset (after a jump); False when not patched/gone.
    `span`: its vDSO's range if known (a new program's elsewhere fails the patched check)."""
    plan = layout()
    span = span or vdso_range(pid)
    if plan is None or span is None:
        return False
    with contextlib.suppress(OSError):
        if _patched(pid, span[0], plan):
            memory.write(pid, span[0] + plan.trampoline, offset_block(offset_ns))
            return True
    return False
