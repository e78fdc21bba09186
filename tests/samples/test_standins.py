"""Stand-in programs (samples/standins/*.c): compiled on the host at build time, static,
byte-identical from one compile to the next, and wired into recipes by `compile:` entries.
Only gcc runs here; the binaries themselves run only inside the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from detonate.factory import load_recipe
from detonate.factory.compile import StandinCompileError, compile_standin, compile_standin_to

STANDINS = Path(__file__).resolve().parents[2] / "samples" / "standins"
SOURCES = sorted(p.name for p in STANDINS.glob("*.c"))
PT_INTERP = 3


def _program_header_types(elf: bytes) -> list[int]:
    # ELF64 little-endian: e_phoff at 32, e_phentsize at 54, e_phnum at 56
    phoff = int.from_bytes(elf[32:40], "little")
    size, count = int.from_bytes(elf[54:56], "little"), int.from_bytes(elf[56:58], "little")
    return [
        int.from_bytes(elf[phoff + i * size : phoff + i * size + 4], "little") for i in range(count)
    ]


def test_every_standin_is_used_by_a_sample() -> None:
    recipes = "".join(p.read_text() for p in STANDINS.parent.rglob("image.yaml"))
    assert SOURCES and all(f"standins/{source}" in recipes for source in SOURCES)


@pytest.mark.parametrize("source", SOURCES)
def test_standin_compiles_static_and_reproducibly(source: str, tmp_path: Path) -> None:
    compile_standin_to(STANDINS / source, tmp_path / "a")
    compile_standin_to(STANDINS / source, tmp_path / "b")
    first = (tmp_path / "a").read_bytes()
    assert first == (tmp_path / "b").read_bytes()
    assert first[:4] == b"\x7fELF" and first[18] == 0x3E  # x86-64
    assert PT_INTERP not in _program_header_types(first), "needs a dynamic loader"
    assert compile_standin(STANDINS / source).read_bytes() == first


def test_compile_entry_becomes_an_executable_binary_in_the_image(tmp_path: Path) -> None:
    (tmp_path / "hello.c").write_text('#include <stdio.h>\nint main(void){puts("hi");return 0;}\n')
    (tmp_path / "image.yaml").write_text(
        "name: compiled\nlayers:\n  - files:\n"
        "      - {path: /usr/bin/hello, compile: hello.c}\n"
        "      - {path: /usr/bin/hello-ro, compile: hello.c, mode: 0644}\n"
    )
    files = {entry.path: entry for entry in load_recipe(tmp_path).layers[1].files}  # type: ignore[union-attr]
    assert files["/usr/bin/hello"].data()[:4] == b"\x7fELF"
    assert files["/usr/bin/hello"].effective_mode() == 0o755
    assert files["/usr/bin/hello-ro"].effective_mode() == 0o644


def test_a_broken_or_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken.c").write_text("int main(void) { return }\n")
    with pytest.raises(StandinCompileError, match=r"gcc failed on broken\.c"):
        compile_standin_to(tmp_path / "broken.c", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(StandinCompileError, match="does not exist"):
        compile_standin(tmp_path / "missing.c")
