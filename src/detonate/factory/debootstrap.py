"""Real benign software images from Debian packages: a shared debootstrap base plus one layer
with the image's packages, as `docker build` of `FROM debian` + `RUN apt-get install` would give.

The base (`debootstrap --variant=minbase SUITE`) is made once and cached under the cache dir
(DETONATE_DEBOOTSTRAP_CACHE, else `.work/debootstrap` in the repository) by a key of what it
is made of; each image's package layer is cached the same way. The packages are installed by
Debian's own apt-get/dpkg in a chroot of a copy of the base, in a private mount and pid
namespace (every process is killed when apt-get ends) and with a policy-rc.d that forbids
starting services. The Debian mirror is read from this machine's apt sources at run time.

Layers hold no apt lists or caches, logs, device nodes, resolv.conf or hostname, and have
fixed mtimes (directory_layer), so a rebuild gives the same bytes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from detonate.factory.directory_layer import directory_layer
from detonate.factory.layers import FIXED_EPOCH, sha256_digest
from detonate.factory.spec import BlobLayer

log = logging.getLogger(__name__)

CACHE_ENV = "DETONATE_DEBOOTSTRAP_CACHE"
MIRROR_ENV = "DETONATE_DEBIAN_MIRROR"
VARIANT = "minbase"
# Bump when what goes into a cached layer changes, so old cache entries are not reused.
CACHE_FORMAT = 2

# Build leftovers and machine state that no image should carry (relative names, fnmatch).
EXCLUDED = (
    "dev/*",
    "proc/*",
    "sys/*",
    "tmp/*",
    "run/*",
    "var/lib/apt/lists/*",
    "var/cache/apt/*",
    "var/cache/debconf/*-old",
    "var/cache/ldconfig/aux-cache",
    "var/lib/dpkg/*-old",
    "var/log/*",
    "etc/resolv.conf",
    "etc/hostname",
    "usr/sbin/policy-rc.d",
)

# invoke-rc.d asks this before starting a service; 101 means "not allowed".
POLICY_RC_D = b"#!/bin/sh\nexit 101\n"
CHROOT_ENV = (
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND=noninteractive",
    "LC_ALL=C",
    f"SOURCE_DATE_EPOCH={FIXED_EPOCH}",  # shadow's "last changed" day for new users
)


@dataclass(frozen=True)
class PreseedFile:
    """A file written into the tree before apt-get runs (a conffile dpkg then keeps)."""

    path: str  # absolute in the image: "/etc/postgresql-common/createcluster.conf"
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class DebootstrapSpec:
    packages: tuple[str, ...]
    suite: str = "bookworm"
    preseed: tuple[PreseedFile, ...] = ()
    remove: tuple[str, ...] = ()  # globs deleted after the install ("/etc/ssl/private/*")


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    repo = Path(__file__).resolve().parents[3]
    base = repo if (repo / "pyproject.toml").is_file() else Path.cwd()
    return base / ".work" / "debootstrap"


def apt_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The first Debian archive in the apt sources (DETONATE_DEBIAN_MIRROR overrides).

    Parses deb822 `URIs: http://mirror.example/debian` and one-line
    `deb [signed-by=…] http://mirror.example/debian bookworm main`."""
    if os.environ.get(MIRROR_ENV):
        return os.environ[MIRROR_ENV]
    sources = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]
    pattern = re.compile(r"^\s*(?:URIs:|deb)\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s", re.M)
    for source in sources:
        if source.is_file() and source.suffix in (".list", ".sources", ""):
            match = pattern.search(source.read_text(errors="replace"))
            if match:
                return match.group(1)
    raise FileNotFoundError(
        f"no Debian archive in {apt_dir}/sources.list*; set {MIRROR_ENV} to a Debian mirror"
    )


def debootstrap_unavailable(suite: str = "bookworm") -> str | None:
    """Why real images cannot be built here (for a test skip), or None if they can."""
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (apt-get install debootstrap)"
    if shutil.which("unshare") is None or shutil.which("chroot") is None:
        return "unshare/chroot (util-linux, coreutils) are missing"
    if os.geteuid() != 0:
        return "debootstrap and chroot need root"
    try:
        mirror = apt_mirror()
        with urllib.request.urlopen(f"{mirror}/dists/{suite}/Release", timeout=10) as reply:
            reply.read(64)
    except (OSError, ValueError) as error:
        return f"the Debian mirror is unreachable: {error}"
    return None


def debootstrap_layers(
    spec: DebootstrapSpec, cache_dir: Path | None = None
) -> tuple[BlobLayer, BlobLayer]:
    """The shared base layer and the layer with `spec.packages` installed on it."""
    cache = Path(cache_dir or default_cache_dir())
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache):
        base_key, base_root = _base_tree(spec.suite, cache)
        base = _cached_layer(
            cache / f"base-{spec.suite}-{base_key}",
            lambda: directory_layer(base_root, _kept, f"debootstrap --variant={VARIANT}"),
        )
        key = _key(
            {
                "base": base_key,
                "packages": sorted(spec.packages),
                "preseed": [(p.path, p.content, p.mode) for p in spec.preseed],
                "remove": list(spec.remove),
            }
        )
        packages = _cached_layer(
            cache / f"packages-{key}", lambda: _packages_layer(spec, base_root, cache / "work")
        )
    return base, packages


def _key(parts: dict[str, object]) -> str:
    text = json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    # Two builds (a test and the CLI) must not debootstrap into the same directory.
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _kept(name: str) -> bool:
    return not any(fnmatchcase(name, pattern) for pattern in EXCLUDED)


def _base_tree(suite: str, cache: Path) -> tuple[str, Path]:
    """debootstrap once; the raw tree keeps apt's package lists so installs need no update."""
    key = _key({"suite": suite, "variant": VARIANT})
    root = cache / f"tree-{suite}-{key}"
    if (root / "usr/bin/apt-get").is_file():
        return key, root
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    mirror = apt_mirror()
    log.info("debootstrap --variant=%s %s from %s (once, about a minute)", VARIANT, suite, mirror)
    _run(["debootstrap", f"--variant={VARIANT}", suite, str(partial), mirror], "debootstrap")
    partial.rename(root)
    return key, root


def _cached_layer(directory: Path, build: Callable[[], BlobLayer]) -> BlobLayer:
    blob_path, meta_path = directory / "layer.tar.gz", directory / "layer.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        return BlobLayer(
            blob=blob_path.read_bytes(), diff_id=meta["diff_id"], created_by=meta["created_by"]
        )
    layer = build()
    assert layer.uncompressed is not None
    directory.mkdir(parents=True, exist_ok=True)
    blob_path.write_bytes(layer.blob)
    meta = {"diff_id": sha256_digest(layer.uncompressed), "created_by": layer.created_by}
    meta_path.write_text(json.dumps(meta))  # written last: its presence marks a complete entry
    return layer


def _packages_layer(spec: DebootstrapSpec, base_root: Path, work: Path) -> BlobLayer:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tree = work / "rootfs"
    try:
        _run(["cp", "-a", "--reflink=auto", str(base_root), str(tree)], "copying the base")
        for item in spec.preseed:
            _write(tree, item.path, item.content.encode(), item.mode)
        _write(tree, "/usr/sbin/policy-rc.d", POLICY_RC_D, 0o755)
        names = " ".join(spec.packages)
        log.info("apt-get install %s (in a chroot of the base)", names)
        _in_chroot(
            tree,
            "apt-get install -y --no-install-recommends"
            f" -o Dpkg::Options::=--force-confold {names}",
        )
        for pattern in spec.remove:
            for path in tree.glob(pattern.lstrip("/")):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        _normalize_debconf(tree)
        changed = _changes(base_root, tree)
        created_by = f"RUN apt-get install -y --no-install-recommends {names}"
        return directory_layer(tree, lambda name: name in changed, created_by)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _in_chroot(tree: Path, command: str) -> None:
    """Run `command` (sh) in a chroot of `tree`, with /dev and /proc mounted in a private
    mount namespace and a new pid namespace whose processes die with it."""
    script = (
        'set -e; mount --rbind /dev "$1/dev"; mount -t proc proc "$1/proc"; '
        'root=$1; shift; exec chroot "$root" /usr/bin/env -i "$@"'
    )
    argv = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", script]
    _run([*argv, "sh", str(tree), *CHROOT_ENV, "/bin/sh", "-c", command], "apt-get")


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise OSError(f"{what} failed (exit {result.returncode}):\n{tail}")


def _write(tree: Path, path: str, data: bytes, mode: int) -> None:
    target = tree / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(mode)


def _normalize_debconf(tree: Path) -> None:
    """debconf keeps the mktemp names that maintainer scripts passed to ucf, e.g.
    ` NEW = /tmp/postgresql-common.lQQY1Y`: fix their random part so rebuilds match."""
    config = tree / "var/cache/debconf/config.dat"
    if config.is_file():
        text = config.read_text(errors="surrogateescape")
        fixed = re.sub(r"(= /tmp/[\w.+-]+\.)[A-Za-z0-9]{6}$", r"\1XXXXXX", text, flags=re.M)
        if fixed != text:
            config.write_text(fixed, errors="surrogateescape")


def _changes(base: Path, tree: Path) -> set[str]:
    """Relative names in `tree` that the layer over `base` must carry: new or changed
    entries, all names of a changed hard-linked file, and `.wh.` whiteouts (created here, as
    empty files) for what was deleted."""
    changed: set[str] = set()
    links: dict[int, list[str]] = {}
    for name, info in _walk(tree):
        if stat.S_ISDIR(info.st_mode) or not _kept(name):
            continue
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            links.setdefault(info.st_ino, []).append(name)
        if _differs(base / name, tree / name, info):
            changed.add(name)
    for names in links.values():
        if changed.intersection(names):
            changed.update(names)
    changed.update(_whiteouts(base, tree))
    return changed


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    for directory, dirs, files in os.walk(root):
        for entry in dirs + files:
            path = os.path.join(directory, entry)
            yield os.path.relpath(path, root), os.lstat(path)


def _differs(old: Path, new: Path, info: os.stat_result) -> bool:
    try:
        before = os.lstat(old)
    except FileNotFoundError:
        return True
    same_meta = (before.st_mode, before.st_uid, before.st_gid) == (
        info.st_mode,
        info.st_uid,
        info.st_gid,
    )
    if not same_meta:
        return True
    if stat.S_ISLNK(info.st_mode):
        return os.readlink(old) != os.readlink(new)
    if stat.S_ISREG(info.st_mode):
        if before.st_size != info.st_size:
            return True
        # cp -a keeps mtimes: an untouched file has the base's; else compare the bytes.
        return before.st_mtime_ns != info.st_mtime_ns and old.read_bytes() != new.read_bytes()
    return False


def _whiteouts(base: Path, tree: Path) -> set[str]:
    made: set[str] = set()
    for directory, dirs, files in os.walk(base):
        relative_dir = os.path.relpath(directory, base)
        for entry in list(dirs) + files:
            name = os.path.normpath(os.path.join(relative_dir, entry))
            if os.path.lexists(tree / name) or not _kept(name):
                continue
            if entry in dirs:
                dirs.remove(entry)  # one whiteout hides the whole directory
            whiteout = os.path.normpath(os.path.join(relative_dir, f".wh.{entry}"))
            (tree / whiteout).touch()
            made.add(whiteout)
    return made
