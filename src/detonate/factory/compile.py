"""Stand-in programs compiled on the host at build time: our own C sources, never image content.

A recipe file entry names a C source relative to the recipe's directory:

    - {path: /usr/local/bin/xmrig, compile: ../../standins/miner.c}

and becomes the static, stripped binary of that source (mode 0755 unless the entry says
otherwise). The host only runs gcc on files of this repository; nothing from an image runs here.

The flags make the output a function of the source, its sibling headers and the compiler:
no symbols (the temporary file names would land in `.symtab`), no build id, no `.comment`.
Binaries are cached by that function under `$DETONATE_STANDIN_CACHE`, else
`$XDG_CACHE_HOME/detonate/standins`, else `~/.cache/detonate/standins`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

CFLAGS = (
    "-static",
    "-Os",
    "-s",
    "-std=gnu11",
    "-Wall",
    "-fno-ident",
    "-fno-asynchronous-unwind-tables",
    "-Wl,--build-id=none",
)


class StandinCompileError(ValueError):
    """gcc is missing or rejected a stand-in source."""


def compile_standin(source: Path) -> Path:
    """The cached static binary built from the C file `source`; compiled on first use."""
    source = Path(source).resolve()
    if not source.is_file():
        raise StandinCompileError(f"stand-in source {source} does not exist")
    key = _cache_key(source)
    target = _cache_dir() / f"{source.stem}-{key[:24]}"
    if not target.is_file():
        _compile(source, target)
    return target


def compile_standin_to(source: Path, output: Path) -> None:
    """Compile `source` to `output`, bypassing the cache (for tests of determinism)."""
    _compile(Path(source).resolve(), Path(output))


@cache
def _compiler() -> tuple[str, str]:
    gcc = os.environ.get("DETONATE_CC") or shutil.which("gcc")
    if not gcc:
        raise StandinCompileError("gcc not found: install Debian's gcc (and libc6-dev)")
    version = subprocess.run(
        [gcc, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return gcc, version


def _cache_key(source: Path) -> str:
    digest = hashlib.sha256()
    digest.update(_compiler()[1].encode())
    digest.update("\0".join(CFLAGS).encode())
    for path in [source, *sorted(source.parent.glob("*.h"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _cache_dir() -> Path:
    explicit = os.environ.get("DETONATE_STANDIN_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "detonate" / "standins"


def _compile(source: Path, target: Path) -> None:
    gcc = _compiler()[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: concurrent builds never see half a binary.
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        result = subprocess.run(
            [gcc, *CFLAGS, "-o", partial, str(source)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=source.parent,
        )
        if result.returncode != 0:
            raise StandinCompileError(f"gcc failed on {source.name}:\n{result.stderr.strip()}")
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
