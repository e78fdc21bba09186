import os
from pathlib import Path

from detonate.sandbox.netsim.rootfs_files import (
    add_trust_anchor,
    resolve_in_root,
    write_resolv_conf,
)

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_absolute_symlink_stays_inside_the_rootfs(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc/ssl").mkdir(parents=True)
    outside = tmp_path / "host-file"
    outside.write_bytes(b"host\n")
    os.symlink(str(outside), root / "etc/ssl/cert.pem")  # an image pointing at a host path
    assert resolve_in_root(root, "etc/ssl/cert.pem") == root / outside.relative_to("/")
    add_trust_anchor(root, PEM)
    assert outside.read_bytes() == b"host\n"


def test_ca_appended_to_existing_bundles_and_debian_one_created(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc/pki/tls/certs").mkdir(parents=True)
    (root / "etc/pki/tls/certs/ca-bundle.crt").write_bytes(b"OLD\n")
    written = add_trust_anchor(root, PEM)
    assert "etc/pki/tls/certs/ca-bundle.crt" in written
    assert (root / "etc/pki/tls/certs/ca-bundle.crt").read_bytes() == b"OLD\n\n" + PEM
    assert (root / "etc/ssl/certs/ca-certificates.crt").read_bytes() == PEM


def test_relative_link_to_one_bundle_is_written_once(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc/ssl/certs").mkdir(parents=True)
    (root / "etc/ssl/certs/ca-certificates.crt").write_bytes(b"OLD\n")
    os.symlink("certs/ca-certificates.crt", root / "etc/ssl/cert.pem")  # as Alpine ships it
    add_trust_anchor(root, PEM)
    assert (root / "etc/ssl/certs/ca-certificates.crt").read_bytes().count(PEM) == 1


def test_resolv_conf_symlink_replaced_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    os.symlink(str(victim), root / "etc/resolv.conf")
    write_resolv_conf(root, "10.128.0.1")
    assert victim.read_text() == "keep\n"
    assert (root / "etc/resolv.conf").read_text().startswith("nameserver 10.128.0.1\n")
