"""A busybox rootfs and image records, built here: the sandbox is tested without unpack."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

from detonate.model.image import AcquiredImage, ImageConfig, Platform
from detonate.model.options import CONTAINER_ID_BASE, SandboxOptions
from detonate.progress import NullProgress

BUSYBOX = Path("/bin/busybox")
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
# C stand-ins installed as /bin/NAME by install_standins
STANDINS = {
    "fd_exhaustion": SAMPLES / "bombs" / "fd_exhaustion.c",
    "ptrace_games": SAMPLES / "bombs" / "ptrace_games.c",
    "escape_kernel": SAMPLES / "containment" / "escape-kernel" / "escape_kernel.c",
}


def sandbox_available() -> bool:
    return (
        os.geteuid() == 0
        and shutil.which("runc") is not None
        and shutil.which("strace") is not None
        and BUSYBOX.exists()
    )


def build_busybox_rootfs(root: Path) -> Path:
    """/bin/busybox + applet links, /etc/passwd, /tmp 1777, owned per CONTAINER_ID_BASE."""
    for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "home/app", "var/log"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = (
        "sh sleep echo cat wget nc mount insmod ls rm mv chmod kill dd mkdir id true head yes"
        " timeout mkfifo cp ln grep"
    )
    for applet in applets.split():
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1000:\n")
    (root / "etc" / "motd").write_text("hello\n")
    (root / "bin" / "ptrace-attach").write_bytes(ptrace_attach_elf(os.getpid()))
    os.chmod(root / "bin" / "ptrace-attach", 0o755)
    (root / "bin" / "chattr-immutable").write_bytes(chattr_immutable_elf("/tmp/locked"))
    os.chmod(root / "bin" / "chattr-immutable", 0o755)
    os.chmod(root / "tmp", 0o1777)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.lchown(Path(dirpath) / name, CONTAINER_ID_BASE, CONTAINER_ID_BASE)
    os.chown(root, CONTAINER_ID_BASE, CONTAINER_ID_BASE)
    os.chown(root / "home" / "app", CONTAINER_ID_BASE + 1000, CONTAINER_ID_BASE + 1000)
    return root


def install_standins(root: Path) -> None:
    """Compile (cached) and copy the C stand-ins into ROOT/bin, owned by container root."""
    from detonate.factory.compile import compile_standin

    for name, source in STANDINS.items():
        target = root / "bin" / name
        shutil.copy(compile_standin(source), target)
        os.chmod(target, 0o755)
        os.lchown(target, CONTAINER_ID_BASE, CONTAINER_ID_BASE)


def _static_elf(code: bytes) -> bytes:
    """One read+execute segment holding `code` (and its data) at 0x400078, entry at its start."""
    base, header_size = 0x400000, 64 + 56
    size = header_size + len(code)
    elf_header = (
        b"\x7fELF\x02\x01\x01"
        + bytes(9)
        + struct.pack(
            "<HHIQQQIHHHHHH", 2, 0x3E, 1, base + header_size, 64, 0, 0, 64, 56, 1, 64, 0, 0
        )
    )
    program_header = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return elf_header + program_header + code


def chattr_immutable_elf(path: str) -> bytes:
    """`chattr +i PATH` without e2fsprogs: open(PATH, O_RDONLY); ioctl(fd, FS_IOC_SETFLAGS,
    &FS_IMMUTABLE_FL); exit(0)."""
    code = (
        b"\x48\x8d\x3d" + struct.pack("<i", 50 - 7)  # lea rdi, [rip → path]
        + b"\x31\xf6"  # xor esi, esi (O_RDONLY)
        b"\xb8\x02\x00\x00\x00\x0f\x05"  # mov eax, 2 (open); syscall
        b"\x89\xc7"  # mov edi, eax
        b"\xbe\x02\x66\x08\x40"  # mov esi, 0x40086602 (FS_IOC_SETFLAGS)
        b"\x48\x8d\x15" + struct.pack("<i", 46 - 30)  # lea rdx, [rip → flags]
        + b"\xb8\x10\x00\x00\x00\x0f\x05"  # mov eax, 16 (ioctl); syscall
        b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05"  # exit(0)
        + struct.pack("<I", 0x10)  # FS_IMMUTABLE_FL, at offset 46
        + path.encode() + b"\x00"  # at offset 50
    )  # fmt: skip
    return _static_elf(code)


def ptrace_attach_elf(pid: int) -> bytes:
    """A 160-byte static x86-64 program: ptrace(PTRACE_ATTACH, pid, 0, 0); exit(0).

    No compiler on the test machine needed, and nothing in it but the one attempt.
    """
    code = (
        b"\xb8\x65\x00\x00\x00"  # mov eax, 101 (ptrace)
        b"\xbf\x10\x00\x00\x00"  # mov edi, 16 (PTRACE_ATTACH)
        + b"\xbe"
        + struct.pack("<I", pid)  # mov esi, pid
        + b"\x31\xd2\x4d\x31\xd2\x0f\x05"  # xor edx, edx; xor r10, r10; syscall
        b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05"  # exit(0)
    )
    return _static_elf(code)


def image_running(*args: str, user: str = "", env: tuple[str, ...] = ()) -> AcquiredImage:
    return AcquiredImage(
        reference="oci-archive:test.tar",
        digest="sha256:" + "0" * 64,
        platform=Platform(),
        config_digest="sha256:" + "1" * 64,
        config=ImageConfig(entrypoint=args, env=("PATH=/bin", *env), user=user),
        layers=(),
        blobs_dir=Path("/nonexistent"),
    )


FAST = SandboxOptions(timeout_seconds=20, idle_seconds=5)
PROGRESS = NullProgress()
