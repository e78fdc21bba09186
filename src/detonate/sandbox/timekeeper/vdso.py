"""Clock reads that never enter the kernel: the vDSO's functions, replaced by syscalls.

A program reads the clock through the vDSO, code the kernel maps into every process, without
a system call, so neither strace nor seccomp sees it. Right after an exec (at the new program's
first arch_prctl/set_tid_address/brk(NULL), which every libc and Go's runtime make before they
read a clock) the keeper overwrites the start of `__vdso_clock_gettime`, `__vdso_gettimeofday`
and `__vdso_time` in that process with `mov eax, NR; syscall; ret`: the reads become system
calls that the seccomp filter traps. The write goes through /proc/PID/mem, which copies the
vDSO page for that process only; children inherit the copy, an exec gets a fresh vDSO.

The function offsets come from the analyser's own vDSO (the kernel maps the same image into
every process), read from its ELF dynamic symbol table:

    Num:    Value          Size Type    Bind   Vis      Ndx Name
      9: 0000000000000b10   902 FUNC    GLOBAL DEFAULT   12 __vdso_clock_gettime@@LINUX_2.6
"""

from __future__ import annotations

import contextlib
import functools
import struct

from detonate.sandbox.timekeeper import memory
from detonate.sandbox.timekeeper.calls import NR

PATCHED = {
    "__vdso_clock_gettime": "clock_gettime",
    "__vdso_gettimeofday": "gettimeofday",
    "__vdso_time": "time",
}
SHT_DYNSYM = 11


def stub(call: str) -> bytes:
    """mov eax, NR; syscall; ret — the arguments are already where the syscall wants them."""
    return b"\xb8" + struct.pack("<I", NR[call]) + b"\x0f\x05\xc3"


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


def symbols(image: bytes) -> dict[str, tuple[int, int]]:
    """name → (offset, size) of the FUNC symbols in a vDSO ELF64 image."""
    (shoff,) = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", image, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", image, shoff + i * shentsize)
                for i in range(shnum)]  # fmt: skip
    found: dict[str, tuple[int, int]] = {}
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != SHT_DYNSYM or not entsize:
            continue
        strtab = sections[link][4]
        for i in range(size // entsize):
            name_at, info, _, _, value, sym_size = struct.unpack_from(
                "<IBBHQQ", image, offset + i * entsize
            )
            if info & 0xF != 2:  # STT_FUNC
                continue
            end = image.index(b"\0", strtab + name_at)
            found[image[strtab + name_at : end].decode()] = (value, sym_size)
    return found


@functools.cache
def patch_plan() -> tuple[tuple[int, bytes], ...]:
    """(offset in the vDSO, stub) for each clock function this kernel's vDSO has."""
    span = vdso_range("self")
    if span is None:
        return ()
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        mem.seek(span[0])
        image = mem.read(span[1] - span[0])
    table = symbols(image)
    plan = []
    for name, call in PATCHED.items():
        if name in table and table[name][1] >= len(stub(call)):
            plan.append((table[name][0], stub(call)))
    return tuple(plan)


def patch(pid: int) -> bool:
    """Make `pid`'s vDSO clock functions system calls; True when (already) done."""
    plan = patch_plan()
    span = vdso_range(pid)
    if not plan or span is None:
        return False
    with contextlib.suppress(OSError):
        first_offset, first_stub = plan[0]
        if memory.read(pid, span[0] + first_offset, len(first_stub)) == first_stub:
            return True
        for offset, code in plan:
            memory.write(pid, span[0] + offset, code)
        return True
    return False
