"""Stand-in programs compiled on the host at build time: our own sources, never image content.

A recipe file entry names a C or Go source relative to the recipe's directory:

    - {path: /usr/local/bin/xmrig, compile: ../../standins/miner.c}
    - {path: /usr/local/bin/gowait, compile: ../../standins/waits/gowait/main.go}

and becomes the static, stripped binary of that source (mode 0755 unless the entry says
otherwise), linked with glibc, or with musl when the entry says `libc: musl` (Debian's
`musl-tools`: `musl-gcc`, the same flags):

    - {path: /usr/local/bin/warmup, compile: ../../standins/waits/timer-thread.c, libc: musl}

The host only runs gcc or go on files of this repository; nothing from an image runs here.

C: the flags make the output a function of the source, its sibling headers and the compiler:
no symbols (the temporary file names would land in `.symtab`), no build id, no `.comment`.
Go: the package in the `.go` file's directory (its own module, standard library only or
vendored) is built with `CGO_ENABLED=0 go build -trimpath -buildvcs=false
-ldflags="-s -w -buildid="`,
offline (`GOPROXY=off`), so the output is a function of the directory's Go files, go.mod,
vendor/ and the toolchain.
Binaries are cached by that function under `$DETONATE_STANDIN_CACHE`, else
`$XDG_CACHE_HOME/detonate/standins`, else `~/.cache/detonate/standins`; Go's build cache
lives beside them (`go-build/`).
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
# -buildvcs=false: else the repository's commit and dirty flag are stamped into the binary
GO_BUILD = ("build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=")
LIBCS = ("glibc", "musl")
# What a Go stand-in's binary depends on besides the toolchain, in its package directory.
GO_INPUTS = ("*.go", "go.mod", "go.sum", "vendor/modules.txt")


class StandinCompileError(ValueError):
    """gcc or go is missing or rejected a stand-in source."""


def compile_standin(source: Path, libc: str = "glibc") -> Path:
    """The cached static binary built from the C or Go file `source` (C linked with `libc`);
    compiled on first use."""
    source = Path(source).resolve()
    if not source.is_file():
        raise StandinCompileError(f"stand-in source {source} does not exist")
    if source.suffix == ".go":
        key = _go_cache_key(source.parent)
        target = _cache_dir() / f"{source.parent.name}-go-{key[:24]}"
        if not target.is_file():
            _compile_go(source.parent, target)
        return target
    key = _cache_key(source, libc)
    flavour = "" if libc == "glibc" else f"{libc}-"
    target = _cache_dir() / f"{source.stem}-{flavour}{key[:24]}"
    if not target.is_file():
        _compile(source, target, libc)
    return target


def compile_standin_to(source: Path, output: Path, libc: str = "glibc") -> None:
    """Compile `source` to `output`, bypassing the cache (for tests of determinism)."""
    source = Path(source).resolve()
    if source.suffix == ".go":
        _compile_go(source.parent, Path(output))
    else:
        _compile(source, Path(output), libc)


def musl_unavailable() -> str | None:
    """Why C stand-ins cannot be linked with musl here, or None when they can."""
    try:
        _compiler("musl")
    except StandinCompileError as exc:
        return str(exc)
    return None


@cache
def _compiler(libc: str = "glibc") -> tuple[str, str]:
    if libc not in LIBCS:
        raise StandinCompileError(f"libc must be one of {', '.join(LIBCS)}, not {libc!r}")
    if libc == "musl":
        gcc = os.environ.get("DETONATE_MUSL_CC") or shutil.which("musl-gcc")
        if not gcc:
            raise StandinCompileError("musl-gcc not found: install Debian's musl-tools")
    else:
        gcc = os.environ.get("DETONATE_CC") or shutil.which("gcc")
        if not gcc:
            raise StandinCompileError("gcc not found: install Debian's gcc (and libc6-dev)")
    version = subprocess.run(
        [gcc, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return gcc, version


@cache
def _go() -> tuple[str, str]:
    go = os.environ.get("DETONATE_GO") or shutil.which("go")
    if not go:
        raise StandinCompileError("go not found: install Debian's golang-go")
    version = subprocess.run(
        [go, "version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return go, version


def _cache_key(source: Path, libc: str = "glibc") -> str:
    digest = hashlib.sha256()
    digest.update(_compiler(libc)[1].encode())
    if libc != "glibc":  # glibc's keys stay as they were: the cache stays warm
        digest.update(f"\0libc={libc}\0".encode())
    digest.update("\0".join(CFLAGS).encode())
    for path in [source, *sorted(source.parent.glob("*.h"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _go_cache_key(package: Path) -> str:
    digest = hashlib.sha256()
    digest.update(_go()[1].encode())
    digest.update("\0".join(GO_BUILD).encode())
    inputs = sorted({path for pattern in GO_INPUTS for path in package.glob(pattern)})
    inputs += sorted((package / "vendor").rglob("*.go")) if (package / "vendor").is_dir() else []
    for path in inputs:
        name = path.relative_to(package).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _cache_dir() -> Path:
    explicit = os.environ.get("DETONATE_STANDIN_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "detonate" / "standins"


def _compile(source: Path, target: Path, libc: str = "glibc") -> None:
    gcc = _compiler(libc)[0]
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
            raise StandinCompileError(
                f"{Path(gcc).name} failed on {source.name}:\n{result.stderr.strip()}"
            )
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _compile_go(package: Path, target: Path) -> None:
    go = _go()[0]
    if not (package / "go.mod").is_file():
        raise StandinCompileError(f"Go stand-in {package} has no go.mod")
    cache = _cache_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cache),
        "CGO_ENABLED": "0",
        "GOPROXY": "off",  # offline: a stand-in uses the standard library or vendor/ only
        "GOFLAGS": "-mod=vendor" if (package / "vendor").is_dir() else "-mod=readonly",
        "GOWORK": "off",
        "GOCACHE": str(cache / "go-build"),
        "GOPATH": str(cache / "go-path"),
        "GOENV": "off",
    }
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        result = subprocess.run(
            [go, *GO_BUILD, "-o", partial, "."],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=package,
            env=environment,
        )
        if result.returncode != 0:
            raise StandinCompileError(
                f"go build failed on {package.name}:\n{result.stderr.strip()}"
            )
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
