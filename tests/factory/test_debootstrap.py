"""Real benign images from Debian packages (debootstrap base + a package layer): built from the
recipes under samples/real, sharing one cached base, readable by acquire/unpack, statically
clean. Their run in the sandbox is checked by the scenario corpus.

The base and package layers are cached (DETONATE_DEBOOTSTRAP_CACHE, else .work/debootstrap):
cold, building all five takes about two minutes; cached, a few seconds."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from detonate.acquire import acquire
from detonate.factory.build import BuiltSample, build_all
from detonate.factory.debootstrap import _changes, apt_mirror, debootstrap_unavailable
from detonate.model.filesystem import FileEntry
from detonate.model.findings import Severity
from detonate.model.options import AcquireOptions, StaticOptions, UnpackLimits
from detonate.progress import NullProgress
from detonate.static import analyze
from detonate.unpack import unpack

REAL = Path(__file__).resolve().parents[2] / "samples" / "real"

# What each image's entrypoint runs, and the config that makes it run the way its official image
# does.
EXPECTED = {
    "nginx": (("/usr/sbin/nginx",), {"Cmd": ["nginx", "-g", "daemon off;"]}),
    "redis": (("/usr/bin/redis-server",), {"User": "redis"}),
    "postgres": (
        (
            "/usr/local/bin/docker-entrypoint.sh",
            "/usr/lib/postgresql/15/bin/postgres",
            "/usr/lib/postgresql/15/bin/initdb",
            "/usr/bin/setpriv",
        ),
        {"Entrypoint": ["/usr/local/bin/docker-entrypoint.sh"], "Cmd": ["postgres"]},
    ),
    "memcached": (("/usr/bin/memcached",), {"User": "memcache", "Cmd": ["memcached"]}),
    "cron": (("/usr/sbin/cron",), {"Cmd": ["cron", "-f"]}),
}
# Nothing a build leaves behind, and nothing of the build machine, ends up in an image.
NEVER_IN_IMAGE = (
    "/etc/resolv.conf",
    "/etc/hostname",
    "/usr/sbin/policy-rc.d",
    "/var/log/dpkg.log",
    "/var/cache/apt/pkgcache.bin",
    "/etc/ssl/private/ssl-cert-snakeoil.key",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltSample]:
    reason = debootstrap_unavailable()
    if reason:
        pytest.skip(f"real Debian images cannot be built here: {reason}")
    out = tmp_path_factory.mktemp("real")
    return {sample.name: sample for sample in build_all(REAL, out, force=True)}


def _config(sample: BuiltSample) -> dict:
    blobs = sample.layout / "blobs/sha256"
    manifest = json.loads((blobs / sample.digest.split(":")[1]).read_bytes())
    return json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())


def _resolved(entries: dict[str, FileEntry], path: str) -> str:
    # /usr/bin/redis-server -> redis-check-rdb (Debian ships one binary under both names)
    for _ in range(8):
        entry = entries[path]
        if entry.type != "symlink":
            return path
        path = os.path.normpath(os.path.join(os.path.dirname(path), entry.link_target))
    raise AssertionError(f"symlink loop at {path}")


@pytest.mark.slow
def test_the_images_share_one_debootstrap_base(built: dict[str, BuiltSample]) -> None:
    assert set(built) == set(EXPECTED)
    bases = {_config(sample)["rootfs"]["diff_ids"][0] for sample in built.values()}
    packages = {_config(sample)["rootfs"]["diff_ids"][1] for sample in built.values()}
    assert len(bases) == 1
    assert len(packages) == len(EXPECTED)


@pytest.mark.slow
def test_a_cached_rebuild_gives_the_same_bytes(
    built: dict[str, BuiltSample], tmp_path: Path
) -> None:
    again = {sample.name: sample for sample in build_all(REAL, tmp_path, force=True)}
    for name, sample in built.items():
        assert again[name].digest == sample.digest
        assert again[name].archive.read_bytes() == sample.archive.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_image_unpacks_runs_its_entrypoint_and_scans_clean(
    built: dict[str, BuiltSample], name: str, tmp_path: Path
) -> None:
    binaries, runtime = EXPECTED[name]
    config = _config(built[name])["config"]
    assert {key: config.get(key) for key in runtime} == runtime
    reference = built[name].archive_reference
    image = acquire(reference, tmp_path / "images", AcquireOptions(), NullProgress())
    rootfs = unpack(image, tmp_path / "rootfs", UnpackLimits(), NullProgress())
    assert rootfs.issues == ()
    entries = rootfs.by_path()
    for binary in binaries:
        target = entries[_resolved(entries, binary)]
        assert target.type == "file" and target.mode & 0o111, binary
    assert not [path for path in NEVER_IN_IMAGE if path in entries]
    assert not [e.path for e in rootfs.entries if e.path.startswith("/dev/") and e.type != "dir"]
    result = analyze(image, rootfs, StaticOptions(), NullProgress())
    serious = [
        (f.rule_id, [e.path for e in f.evidence])
        for f in result.findings
        if f.severity in (Severity.HIGH, Severity.CRITICAL)
    ]
    assert serious == []


@pytest.mark.slow
def test_debian_layers_carry_no_apt_lists_logs_or_devices(built: dict[str, BuiltSample]) -> None:
    blobs = built["nginx"].layout / "blobs/sha256"
    manifest = json.loads((blobs / built["nginx"].digest.split(":")[1]).read_bytes())
    for layer in manifest["layers"][:2]:  # the base and the packages (the recipe's come after)
        with tarfile.open(blobs / layer["digest"].split(":")[1], "r:gz") as tar:
            files = [m.name for m in tar.getmembers() if not m.isdir()]
        assert not [f for f in files if f.startswith(("var/lib/apt/lists/", "var/log/", "dev/"))]
        assert {m for m in files if m.endswith(".deb")} == set()


def test_package_layer_holds_new_changed_and_whiteouts_only(tmp_path: Path) -> None:
    base, tree = tmp_path / "base", tmp_path / "tree"
    for root in (base, tree):
        (root / "etc").mkdir(parents=True)
        (root / "etc/same").write_text("same")
        (root / "etc/changed").write_text("old")
        (root / "etc/gone").write_text("x")
        (root / "var/log").mkdir(parents=True)
    (tree / "etc/gone").unlink()
    (tree / "etc/changed").write_text("new")
    (tree / "etc/new").write_text("n")
    # A new name for an unchanged file: both names go in, so the hard link has its target.
    for root in (base, tree):
        (root / "etc/shared").write_text("s")
        os.utime(root / "etc/shared", ns=(10**18, 10**18))
    (tree / "etc/shared-link").hardlink_to(tree / "etc/shared")
    (tree / "var/log/dpkg.log").write_text("build noise")
    assert _changes(base, tree) == {
        "etc/changed",
        "etc/new",
        "etc/shared",
        "etc/shared-link",
        "etc/.wh.gone",
    }
    assert (tree / "etc/.wh.gone").is_file()


def test_mirror_is_read_from_apt_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DETONATE_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# a comment\ndeb [signed-by=/k.gpg] http://mirror.example.test/debian/ bookworm main\n"
    )
    assert apt_mirror(tmp_path) == "http://mirror.example.test/debian"
    (tmp_path / "sources.list").unlink()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://deb.example.test/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://deb.example.test/debian-security\n"
    )
    assert apt_mirror(tmp_path) == "http://deb.example.test/debian"
    (tmp_path / "sources.list.d/debian.sources").unlink()
    with pytest.raises(FileNotFoundError, match="DETONATE_DEBIAN_MIRROR"):
        apt_mirror(tmp_path)
