"""One pass over the distinct file contents of a rootfs: the YARA rules and the IOC strings of
each content come from a single read and a single yara-x scan, on worker processes, and are
cached by the content's sha256 (result_cache).

Why processes: yara-x's Python `Scanner.scan` holds the GIL for the whole scan, so threads scan
one file at a time. Workers are forked, so they inherit the compiled rules instead of compiling
them again. Why yara-x for the IOC strings: Python's `re` walks every byte of a binary once per
pattern (about 16 MB/s for the five indicator patterns); yara-x finds the few offsets where an
indicator may start (about 20× faster, over the same bytes already in memory for the rules), and
the Python patterns are tried only there.

Only results that depend on the bytes alone are computed here. Whatever depends on the path or
the image (which files are relevant for IOCs, the IOC budget, evidence) is the analyzers' job,
recomputed from the index on every scan.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import yara_x

from detonate.errors import StaticError
from detonate.model.filesystem import FileEntry, FileType, Rootfs
from detonate.model.options import MiB, StaticOptions
from detonate.progress import Progress
from detonate.static.file_reading import read_path_head
from detonate.static.indicators import Found, find_indicators
from detonate.static.ioc_scope import FILE_BYTES, ioc_reads
from detonate.static.result_cache import ResultCache, ResultKey
from detonate.static.rule_hits import excerpt
from detonate.static.yara_rules import ENGINE, CompiledRules, compiled_rules

# Bump when the code below changes what it finds for the same bytes and rules.
YARA_VERSION = f"1 {ENGINE}"
IOC_VERSION = f"1 {ENGINE} head={FILE_BYTES}"
WORKERS = min(4, os.cpu_count() or 1)
IN_PROCESS_BYTES = 8 * MiB  # less work than this is not worth forking for …
IN_PROCESS_FILES = 64  # … unless it is this many files
BATCH_BYTES = 16 * MiB  # a worker's task: files up to this many bytes together …
BATCH_FILES = 256  # … or this many files
SCAN_TIMEOUT_SECONDS = 30
MAX_MATCHES = 1_000_000  # per pattern, as classic YARA; at the cap, IOCs fall back to Python
EXCERPT_BYTES = 160
ELF_MAGIC = b"\x7fELF"

YaraHits = list[tuple[str, str]]  # (YARA rule identifier, excerpt of what it matched)


@dataclass(frozen=True)
class IocFacts:
    """The indicators in the first FILE_BYTES of a content, and whether it is an ELF binary."""

    found: Found
    elf: bool

    def to_json(self) -> dict[str, object]:
        found = self.found
        return {
            "urls": sorted(found.urls),
            "pools": sorted(found.pools),
            "domains": sorted(found.domains),
            "ips": sorted(found.ips),
            "wallets": dict(sorted(found.wallets.items())),
            "elf": self.elf,
        }

    @staticmethod
    def from_json(value: object) -> IocFacts:
        if not isinstance(value, dict):
            raise ValueError("IOC facts must be an object")
        found = Found(
            urls=set(value["urls"]),
            pools=set(value["pools"]),
            domains=set(value["domains"]),
            ips=set(value["ips"]),
            wallets=dict(value["wallets"]),
        )
        return IocFacts(found, bool(value["elf"]))


@dataclass
class ContentResults:
    """Per content key (a sha256, or "path:/x" for a file the index has no hash of)."""

    yara: dict[str, YaraHits] = field(default_factory=dict)
    iocs: dict[str, IocFacts] = field(default_factory=dict)
    scanned: int = 0  # contents read and scanned in this pass (cache misses)


def content_key(entry: FileEntry) -> str:
    return entry.sha256 or f"path:{entry.path}"


# One pass per Rootfs and options: the YARA and the IOC analyzer both read its results.
_memo: dict[tuple[int, StaticOptions], tuple[weakref.ref[Rootfs], Future[ContentResults]]] = {}
_memo_lock = threading.Lock()


def start_content_pass(rootfs: Rootfs, options: StaticOptions, progress: Progress) -> None:
    """Begin the pass on a thread of its own: while the workers scan, this process evaluates
    the file-index rules instead of waiting. `content_results` then waits for it."""
    future = _claim(rootfs, options)
    if future is None:
        return
    handed_out = threading.Event()
    thread = threading.Thread(
        target=_fulfil,
        args=(future, rootfs, options, progress, handed_out),
        name="static-content-pass",
    )
    thread.daemon = True  # a scan that fails earlier does not wait for it at exit
    thread.start()
    # Return once the work is with the workers: listing it is Python too, and beside the
    # file-index rules (on this thread) it took five times as long, the GIL going back and forth.
    handed_out.wait()


def content_results(rootfs: Rootfs, options: StaticOptions, progress: Progress) -> ContentResults:
    future = _claim(rootfs, options)
    if future is not None:  # not started in the background: run it here
        _fulfil(future, rootfs, options, progress)
    with _memo_lock:
        pending = _memo[(id(rootfs), options)][1]
    return pending.result()


def settle_content_pass(rootfs: Rootfs, options: StaticOptions) -> None:
    """Wait for a started pass to end, whatever its outcome: no work outlives the stage (an
    analyzer that failed first leaves the pass's own error unread)."""
    with _memo_lock:
        cached = _memo.get((id(rootfs), options))
    if cached is not None:
        cached[1].exception()


def _claim(rootfs: Rootfs, options: StaticOptions) -> Future[ContentResults] | None:
    """A new future for this rootfs and options, or None when a pass has one already."""
    key = (id(rootfs), options)
    with _memo_lock:
        cached = _memo.get(key)
        if cached and cached[0]() is rootfs:
            return None
        for stale in [k for k, (ref, _) in _memo.items() if ref() is None]:
            del _memo[stale]
        future: Future[ContentResults] = Future()
        _memo[key] = (weakref.ref(rootfs), future)
        return future


def _fulfil(
    future: Future[ContentResults],
    rootfs: Rootfs,
    options: StaticOptions,
    progress: Progress,
    handed_out: threading.Event | None = None,
) -> None:
    handed_out = handed_out or threading.Event()
    try:
        future.set_result(_run_pass(rootfs, options, progress, handed_out))
    except BaseException as error:  # raised again where the results are read
        future.set_exception(error)
    finally:
        handed_out.set()


@dataclass(frozen=True)
class _Task:
    key: str
    path: str  # on the host
    read_bytes: int
    yara: bool  # scan with the rules (the whole file is read) …
    iocs: bool  # … and/or find the indicators of its first FILE_BYTES


def _run_pass(
    rootfs: Rootfs, options: StaticOptions, progress: Progress, handed_out: threading.Event
) -> ContentResults:
    compiled = compiled_rules(options.extra_rules_dir)
    cap = options.yara_max_file_bytes
    yara_files: dict[str, FileEntry] = {}
    if compiled.by_name:
        for entry in rootfs.entries:
            if entry.type is FileType.FILE and 0 < entry.size <= cap:
                yara_files.setdefault(content_key(entry), entry)
    ioc_files: dict[str, FileEntry] = {}
    for entry, limit in ioc_reads(rootfs):
        if limit == min(entry.size, FILE_BYTES):  # the budget's last file is read in part
            ioc_files.setdefault(content_key(entry), entry)

    results = ContentResults()
    yara_cache = ResultCache(
        options.results_cache, ResultKey("yara", YARA_VERSION, compiled.ruleset_hash)
    )
    ioc_cache = ResultCache(options.results_cache, ResultKey("iocs", IOC_VERSION, ENGINE))
    try:
        for key, value in yara_cache.get_many(k for k in yara_files if ":" not in k).items():
            if not isinstance(value, list):
                continue  # not the shape this version writes: scanned again
            try:
                results.yara[key] = [(str(rule), str(text)) for rule, text in value]
            except (TypeError, ValueError):
                continue
        for key, value in ioc_cache.get_many(k for k in ioc_files if ":" not in k).items():
            try:
                results.iocs[key] = IocFacts.from_json(value)
            except (KeyError, TypeError, ValueError):
                continue
        tasks = _tasks(rootfs, yara_files, ioc_files, results, cap)
        new_yara: dict[str, object] = {}
        new_iocs: dict[str, object] = {}
        task_name = "static: content"
        progress.start(task_name, total=sum(t.read_bytes for t in tasks), unit="bytes")
        for task, hits, facts in _scan_all(tasks, compiled, options.extra_rules_dir, handed_out):
            progress.advance(task_name, task.read_bytes)
            results.scanned += 1
            if hits is not None:
                results.yara[task.key] = hits
                if ":" not in task.key:
                    new_yara[task.key] = hits
            if facts is not None:
                results.iocs[task.key] = facts
                if ":" not in task.key:
                    new_iocs[task.key] = facts.to_json()
        progress.finish(task_name)
        yara_cache.put_many(new_yara)
        ioc_cache.put_many(new_iocs)
    finally:
        yara_cache.close()
        ioc_cache.close()
    return results


def _tasks(
    rootfs: Rootfs,
    yara_files: dict[str, FileEntry],
    ioc_files: dict[str, FileEntry],
    results: ContentResults,
    cap: int,
) -> list[_Task]:
    tasks = []
    for key in dict.fromkeys([*yara_files, *ioc_files]):
        want_yara = key in yara_files and key not in results.yara
        want_iocs = key in ioc_files and key not in results.iocs
        if not (want_yara or want_iocs):
            continue
        entry = yara_files.get(key) or ioc_files[key]
        read_bytes = min(entry.size, cap if want_yara else FILE_BYTES)
        tasks.append(_Task(key, rootfs.host_path_text(entry), read_bytes, want_yara, want_iocs))
    # Largest first: a 30 MB binary scanned last would leave the other workers idle meanwhile.
    tasks.sort(key=lambda task: task.read_bytes, reverse=True)
    return tasks


Outcome = tuple[_Task, YaraHits | None, IocFacts | None]


def _scan_all(
    tasks: list[_Task], compiled: CompiledRules, extra_dir: Path | None, handed_out: threading.Event
) -> Iterator[Outcome]:
    """Scan on worker processes when there is enough work, in this process otherwise;
    `handed_out` is set once the workers have it all."""
    total = sum(t.read_bytes for t in tasks)
    for task in tasks:  # compile the size classes here, once, for the workers to inherit
        if task.yara:
            compiled.for_size(task.read_bytes)
    if WORKERS < 2 or (total < IN_PROCESS_BYTES and len(tasks) < IN_PROCESS_FILES):
        handed_out.set()
        yield from _Scanners(compiled).scan_batch(tasks)
        return
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(
            WORKERS, mp_context=context, initializer=_start_worker, initargs=(extra_dir,)
        ) as pool:
            futures = [pool.submit(_worker_scan, batch) for batch in _batches(tasks)]
            handed_out.set()
            for future in as_completed(futures):
                yield from future.result()
    except (OSError, RuntimeError) as error:  # BrokenProcessPool is a RuntimeError
        raise StaticError(f"a YARA worker process failed: {error}") from None


def _batches(tasks: list[_Task]) -> Iterator[list[_Task]]:
    batch: list[_Task] = []
    size = 0
    for task in tasks:
        if batch and (size + task.read_bytes > BATCH_BYTES or len(batch) >= BATCH_FILES):
            yield batch
            batch, size = [], 0
        batch.append(task)
        size += task.read_bytes
    if batch:
        yield batch


_worker_scanners: _Scanners | None = None


def _start_worker(extra_dir: Path | None) -> None:
    global _worker_scanners
    _worker_scanners = _Scanners(compiled_rules(extra_dir))  # inherited from the parent: no compile


def _worker_scan(batch: list[_Task]) -> list[Outcome]:
    assert _worker_scanners is not None
    return list(_worker_scanners.scan_batch(batch))


class _Scanners:
    def __init__(self, compiled: CompiledRules) -> None:
        self.compiled = compiled
        self.rules: dict[int, yara_x.Scanner] = {}  # by id of the size class's rules
        self.indicators = self._scanner(compiled.indicators)

    @staticmethod
    def _scanner(rules: yara_x.Rules) -> yara_x.Scanner:
        scanner = yara_x.Scanner(rules)
        scanner.set_timeout(SCAN_TIMEOUT_SECONDS)
        scanner.max_matches_per_pattern(MAX_MATCHES)
        return scanner

    def scan_batch(self, tasks: list[_Task]) -> Iterator[Outcome]:
        for task in tasks:
            if task.yara and task.read_bytes > FILE_BYTES:
                # A large file is scanned where it lies (yara-x maps it) instead of being
                # copied into a bytes object; only its head is read, for the IOCs.
                hits = self.rule_hits_of_file(task.path, task.read_bytes)
                head = read_path_head(task.path, FILE_BYTES) if task.iocs else b""
                yield task, hits, self.indicators_of(head) if task.iocs else None
                continue
            data = read_path_head(task.path, task.read_bytes)
            yield task, *self.scan(data, task.yara, task.iocs)

    def rule_hits_of_file(self, path: str, size: int) -> YaraHits:
        """`rule_hits` of the regular file at `path` (never through a symlink) of `size` bytes."""
        try:
            info = os.lstat(path)
        except OSError:
            return []
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            return self.rule_hits(read_path_head(path, size))  # as read_path_head sees it
        scanner = self._scanner_for(size)
        if scanner is None:
            return []
        try:
            matched = list(scanner.scan_file(path).matching_rules)
        except (yara_x.TimeoutError, yara_x.ScanError):
            return []
        if not any(rule.identifier in self.compiled.by_name for rule in matched):
            return []
        return self.rule_hits(read_path_head(path, size))  # a hit: excerpts need the bytes

    def scan(self, data: bytes, yara: bool, iocs: bool) -> tuple[YaraHits | None, IocFacts | None]:
        """The rule hits of `data` (if `yara`) and the indicators of its head (if `iocs`)."""
        hits = self.rule_hits(data) if yara else None
        facts = self.indicators_of(data[:FILE_BYTES]) if iocs else None
        return hits, facts

    def rule_hits(self, data: bytes) -> YaraHits:
        if not data:
            return []
        scanner = self._scanner_for(len(data))
        if scanner is None:
            return []
        try:
            matched = scanner.scan(data).matching_rules
        except (yara_x.TimeoutError, yara_x.ScanError):
            return []  # as before: a file yara-x gives up on has no hits
        return [
            (rule.identifier, _pattern_excerpt(rule, data))
            for rule in matched
            if rule.identifier in self.compiled.by_name
        ]

    def _scanner_for(self, size: int) -> yara_x.Scanner | None:
        """The scanner of the rules that can match `size` bytes; None when no rule can."""
        rules = self.compiled.for_size(size)
        if rules is None:
            return None
        scanner = self.rules.get(id(rules))
        if scanner is None:
            scanner = self.rules[id(rules)] = self._scanner(rules)
        return scanner

    def indicators_of(self, head: bytes) -> IocFacts:
        elf = head.startswith(ELF_MAGIC)
        if not head:
            return IocFacts(Found(), elf)
        try:
            matched = self.indicators.scan(head).matching_rules
        except (yara_x.TimeoutError, yara_x.ScanError):
            return IocFacts(find_indicators(head), elf)  # Python walks the bytes instead
        starts: dict[str, list[int]] = {}
        for rule in matched:
            for pattern in rule.patterns:
                if len(pattern.matches) >= MAX_MATCHES:  # candidates may be missing
                    return IocFacts(find_indicators(head), elf)
                starts[pattern.identifier.lstrip("$")] = [m.offset for m in pattern.matches]
        return IocFacts(find_indicators(head, starts), elf)


def _pattern_excerpt(matched: yara_x.Rule, data: bytes) -> str:
    """The bytes of the longest first match among the rule's patterns (a command line says more
    than the "#!" a condition also required), shown as text."""
    firsts = [pattern.matches[0] for pattern in matched.patterns if pattern.matches]
    if not firsts:
        return ""
    best = max(firsts, key=lambda m: m.length)
    raw = data[best.offset : best.offset + min(best.length, EXCERPT_BYTES)]
    return excerpt("".join(ch if ch.isprintable() else "." for ch in raw.decode("latin-1")))


def indicators_in(data: bytes, compiled: CompiledRules) -> IocFacts:
    """The indicators of `data` found through yara-x in this process (a file read in part)."""
    return _Scanners(compiled).indicators_of(data[:FILE_BYTES])
