"""The file index: every entry of the rootfs is a subject that YAML rules with `subject: file`
match (names, paths, mode bits, package ownership, and the text of small files when asked).

The tests on the index run on every scan; the content tests' outcomes are cached by sha256
(file_content_rules.py), so a warm scan reads no file for them.
"""

from __future__ import annotations

import bisect
import posixpath

from detonate.model.filesystem import FileEntry, FileType, Rootfs
from detonate.model.findings import Evidence
from detonate.model.image import AcquiredImage
from detonate.model.options import StaticOptions
from detonate.progress import Progress
from detonate.rules.loader import Rule, load_rules
from detonate.rules.match import FieldTest, Hit
from detonate.static.file_content_rules import (
    ContentOutcome,
    ContentOutcomes,
    SplitRule,
    split_rule,
)
from detonate.static.file_reading import read_head
from detonate.static.interface import AnalyzerResult
from detonate.static.packages import package_owned_paths
from detonate.static.rule_hits import RuleHits, excerpt

CONTENT_BYTES = 64 * 1024  # rules see the first 64 KiB of a file as `content`
PROGRESS_STEP = 5000
# Fields of few values: a rule's tests on them are decided once per combination of values, not
# once per entry (most rules end at `type` or `owned` for most entries of a distribution).
GATE_FIELDS = ("type", "owned", "executable")


class FileSubject:
    """One index entry as rules see it; `content` is read on first use, at most once."""

    def __init__(self, rootfs: Rootfs, entry: FileEntry, owned: frozenset[str]) -> None:
        self.rootfs = rootfs
        self.entry = entry
        self.owned = owned
        self._content: str | None = None
        self._values: dict[str, object] = {}  # each of ~30 rules asks for the same few fields

    def get(self, field: str) -> object:
        try:
            return self._values[field]
        except KeyError:
            value = self._values[field] = self._get(field)
            return value

    def _get(self, field: str) -> object:
        entry = self.entry
        match field:
            case "path":
                return entry.path
            case "name":
                return posixpath.basename(entry.path)
            case "dir":
                return posixpath.dirname(entry.path)
            case "type":
                return entry.type.value
            case "size":
                return entry.size
            case "mode":
                return entry.mode
            case "uid":
                return entry.uid
            case "gid":
                return entry.gid
            case "layer":
                return entry.layer_index
            case "executable":
                return entry.is_executable
            case "link_target":
                return entry.link_target
            case "owned":
                return entry.path in self.owned
            case "content":
                return self.content
            case "certificate_beside":
                return certificate_beside(self.rootfs, entry)
        return None

    @property
    def content(self) -> str:
        if self._content is None:
            # latin-1 keeps every byte as one character, so regexes see binary files too.
            self._content = read_head(self.rootfs, self.entry, CONTENT_BYTES).decode("latin-1")
        return self._content


CERTIFICATE_SUFFIXES = (".crt", ".cer", ".cert", ".pem")
MAX_SIBLINGS = 64  # files of one directory looked at for a certificate


def certificate_beside(rootfs: Rootfs, entry: FileEntry) -> bool:
    """A certificate (`-----BEGIN CERTIFICATE-----`) in the same directory as `entry`: a key
    shipped with its certificate is a server's TLS identity (server.key beside server.crt,
    privkey.pem beside fullchain.pem), not a key for reaching other systems."""
    directory = posixpath.dirname(entry.path).rstrip("/") + "/"
    start = bisect.bisect_left(rootfs.entries, directory, key=lambda e: e.path)
    for other in rootfs.entries[start : start + MAX_SIBLINGS]:
        if not other.path.startswith(directory):
            break
        name = other.path[len(directory) :]
        if other.path == entry.path or other.type is not FileType.FILE or "/" in name:
            continue
        certificate = b"-----BEGIN CERTIFICATE-----"
        if name.endswith(CERTIFICATE_SUFFIXES) and certificate in read_head(rootfs, other, 4096):
            return True
    return False


class _Gates:
    """The rules an entry may match, by the values of its GATE_FIELDS: a rule whose tests on
    those fields fail cannot match (all of a rule's tests must hold), so it is not evaluated.
    The list is made once per combination of values (a few dozen in a rootfs), not per entry."""

    def __init__(self, rules: list[Rule], splits: dict[str, SplitRule | None]) -> None:
        fields = GATE_FIELDS
        self.rules = [
            (rule, splits[rule.meta.id], [(fields.index(t.field), t) for t in _tests(rule)])
            for rule in rules
        ]
        self.plans: dict[tuple[object, ...], list[tuple[Rule, SplitRule | None]]] = {}

    def rules_for(self, values: tuple[object, ...]) -> list[tuple[Rule, SplitRule | None]]:
        plan = self.plans.get(values)
        if plan is None:
            plan = self.plans[values] = [
                (rule, split) for rule, split, tests in self.rules if self.admits(tests, values)
            ]
        return plan

    @staticmethod
    def admits(tests: list[tuple[int, FieldTest]], values: tuple[object, ...]) -> bool:
        return all(test.holds(values[i])[0] for i, test in tests)


def _tests(rule: Rule) -> list[FieldTest]:
    assert rule.matcher is not None
    return [t for t in rule.matcher.tests if t.field in GATE_FIELDS]


class FileIndexAnalyzer:
    name = "files"

    def analyze(
        self, image: AcquiredImage, rootfs: Rootfs, options: StaticOptions, progress: Progress
    ) -> AnalyzerResult:
        rules = [r for r in load_rules("static", options.extra_rules_dir) if r.subject == "file"]
        splits = {rule.meta.id: split_rule(rule) for rule in rules}
        gates = _Gates(rules, splits)
        owned = package_owned_paths(rootfs)
        task = "static: file index"
        progress.start(task, total=len(rootfs.entries), unit="files")
        # 1. Every test but the content ones, on every entry; contents wanted, by sha256.
        pending: list[tuple[FileSubject, Rule, Hit, SplitRule | None]] = []
        wanted: dict[str, dict[str, FileSubject]] = {}  # rule id → sha256 → a file with it
        for count, entry in enumerate(rootfs.entries, 1):
            subject = FileSubject(rootfs, entry, owned)
            for rule, split in gates.rules_for(tuple(map(subject.get, GATE_FIELDS))):
                if split is None or not entry.sha256:
                    assert rule.matcher is not None
                    hit = rule.matcher.evaluate(subject)
                    if hit is not None:
                        pending.append((subject, rule, hit, None))
                    continue
                hit = split.index_part.evaluate(subject)
                if hit is not None:
                    pending.append((subject, rule, hit, split))
                    wanted.setdefault(rule.meta.id, {}).setdefault(entry.sha256, subject)
            if count % PROGRESS_STEP == 0:
                progress.advance(task, PROGRESS_STEP)
        # 2. The content tests: from the cache, or each content read once for all its rules.
        outcomes = ContentOutcomes(options.results_cache)
        missing: dict[str, list[SplitRule]] = {}
        for rule_id, by_digest in wanted.items():
            split = splits[rule_id]
            assert split is not None
            for digest in outcomes.load(split, by_digest):
                missing.setdefault(digest, []).append(split)
        computed: dict[str, dict[str, ContentOutcome]] = {}
        for digest, digest_splits in missing.items():
            first = wanted[digest_splits[0].rule.meta.id][digest]
            content = FileSubject(rootfs, first.entry, owned).content  # not kept on `first`
            for split in digest_splits:
                outcome = split.content_outcome(content)
                computed.setdefault(split.rule.meta.id, {})[digest] = outcome
        for rule_id, values in computed.items():
            split = splits[rule_id]
            assert split is not None
            outcomes.store(split, values)
        # 3. Hits in index order, as one pass would have found them.
        hits = RuleHits("static:files")
        for subject, rule, hit, split in pending:
            if split is None:
                hits.add(rule, _evidence(subject, hit.excerpts))
                continue
            ok, texts = outcomes.known[(rule.meta.id, subject.entry.sha256)]
            if ok:
                hits.add(rule, _evidence(subject, hit.excerpts + texts))
        progress.finish(task)
        return AnalyzerResult(findings=hits.findings())


def _evidence(subject: FileSubject, excerpts: tuple[str, ...]) -> Evidence:
    entry = subject.entry
    description = f"{entry.type.value}, mode {entry.mode:04o}, uid {entry.uid}"
    if entry.link_target:
        description += f", → {entry.link_target}"
    text = ""
    if excerpts:
        matched = excerpts[-1]
        # Show the matched line of a text file (a cron line), or just the match in a binary.
        content = subject.content
        at = content.find(matched)
        if at >= 0 and "\x00" not in content[:1024]:
            start = content.rfind("\n", 0, at) + 1
            end = content.find("\n", at + len(matched))
            text = excerpt(content[start : end if end >= 0 else None], matched)
        else:
            text = excerpt(matched)
    return Evidence(
        description=description,
        path=entry.path,
        layer_index=entry.layer_index,
        sha256=entry.sha256,
        excerpt=text,
    )
