"""The wait-form stand-ins (samples/waits/, sources in samples/standins/waits/): EXPECTED.yaml
names exactly the recipes, every source is used, each compiles static and byte-identical (C by
gcc, Go by an offline `go build`), and they stay inside the harmless names and addresses.
Only the compilers run here; the stand-ins run in tests/sandbox/test_wait_forms.py."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
import yaml

from detonate.factory.compile import compile_standin, compile_standin_to, musl_unavailable

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
WAITS = SAMPLES / "waits"
SOURCES = SAMPLES / "standins" / "waits"
EXPECTED = yaml.safe_load((WAITS / "EXPECTED.yaml").read_text())["forms"]
C_SOURCES = sorted(p.name for p in SOURCES.glob("*.c"))
HARMLESS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
WALLET = re.compile(r"\b4[1-9A-HJ-NP-Za-km-z]{60,}\b")


def test_expected_names_exactly_the_recipes_and_says_what_to_find() -> None:
    assert sorted(EXPECTED) == sorted(p.parent.name for p in WAITS.glob("*/image.yaml"))
    for form, entry in EXPECTED.items():
        # the recipe's own name (load_recipe would build a debootstrap base for the Python ones)
        assert yaml.safe_load((WAITS / form / "image.yaml").read_text())["name"] == form
        assert entry["description"] and entry["wait"]["calls"] and entry["wait"]["seconds"] > 0
        assert entry["payload"]["exec"].startswith("/") and entry["payload"]["proof"]
        assert entry["finding"] in ("sleep-before-activity", None)


def test_every_wait_source_is_used_by_a_recipe() -> None:
    recipes = "".join(p.read_text() for p in WAITS.glob("*/image.yaml"))
    for source in [*C_SOURCES, "gowait/main.go", "pywait.py"]:
        assert f"standins/waits/{source}" in recipes, source


def test_stand_ins_stay_inside_harmless_addresses_names_and_wallets() -> None:
    text = "\n".join(
        p.read_text() for p in [*WAITS.rglob("*.yaml"), *SOURCES.rglob("*.[chgp]*")] if p.is_file()
    )
    for literal in re.findall(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])", text):
        assert any(ipaddress.ip_address(literal) in net for net in HARMLESS), literal
    for host in re.findall(r"[a-z+]+://([A-Za-z0-9.-]+)", text):
        assert re.fullmatch(r"[\d.]+", host) or host.endswith(".test"), host
    assert WALLET.findall(text) and all(len(w) == 95 for w in WALLET.findall(text))


@pytest.mark.parametrize("source", C_SOURCES)
def test_c_wait_standin_compiles_static_and_reproducibly(source: str, tmp_path: Path) -> None:
    compile_standin_to(SOURCES / source, tmp_path / "a")
    compile_standin_to(SOURCES / source, tmp_path / "b")
    first = (tmp_path / "a").read_bytes()
    assert first == (tmp_path / "b").read_bytes()
    assert first[:4] == b"\x7fELF" and first[18] == 0x3E


def test_a_musl_standin_is_linked_with_musl_static_reproducibly_and_cached_apart(
    tmp_path: Path,
) -> None:
    """`libc: musl` (c-timer-thread-musl): musl-gcc, the same flags; its own cache entry."""
    if musl_unavailable():
        pytest.skip(str(musl_unavailable()))
    source = SOURCES / "timer-thread.c"
    compile_standin_to(source, tmp_path / "a", "musl")
    compile_standin_to(source, tmp_path / "b", "musl")
    first = (tmp_path / "a").read_bytes()
    assert first == (tmp_path / "b").read_bytes()
    assert first[:4] == b"\x7fELF" and first[18] == 0x3E
    assert b"GLIBC" not in first and b"/lib64/ld-linux" not in first  # static, not glibc
    assert compile_standin(source, "musl").read_bytes() == first
    assert compile_standin(source, "musl") != compile_standin(source)


@pytest.mark.slow
def test_go_standin_builds_offline_static_reproducibly_and_is_cached(tmp_path: Path) -> None:
    source = SOURCES / "gowait" / "main.go"
    compile_standin_to(source, tmp_path / "a")
    compile_standin_to(source, tmp_path / "b")
    first = (tmp_path / "a").read_bytes()
    assert first == (tmp_path / "b").read_bytes()
    assert first[:4] == b"\x7fELF" and first[18] == 0x3E
    build_paths = (str(SOURCES.parents[2]), str(Path.home()))  # the checkout, the Go cache
    assert not any(path.encode() in first for path in build_paths)  # -trimpath: no build paths
    assert b"vcs.revision" not in first  # the repository's commit would change every build
    cached = compile_standin(source)
    assert cached.read_bytes() == first and compile_standin(source) == cached
