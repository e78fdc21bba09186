"""The file index: every entry of the rootfs is a subject that YAML rules with `subject: file`
match (names, paths, mode bits, package ownership, and the text of small files when asked)."""

from __future__ import annotations

import posixpath

from detonate.model.filesystem import FileEntry, Rootfs
from detonate.model.findings import Evidence
from detonate.model.image import AcquiredImage
from detonate.model.options import StaticOptions
from detonate.progress import Progress
from detonate.rules.loader import load_rules
from detonate.static.file_reading import read_head
from detonate.static.interface import AnalyzerResult
from detonate.static.packages import package_owned_paths
from detonate.static.rule_hits import RuleHits, excerpt

CONTENT_BYTES = 64 * 1024  # rules see the first 64 KiB of a file as `content`
PROGRESS_STEP = 5000


class FileSubject:
    """One index entry as rules see it; `content` is read on first use, at most once."""

    def __init__(self, rootfs: Rootfs, entry: FileEntry, owned: frozenset[str]) -> None:
        self.rootfs = rootfs
        self.entry = entry
        self.owned = owned
        self._content: str | None = None

    def get(self, field: str) -> object:
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
        return None

    @property
    def content(self) -> str:
        if self._content is None:
            # latin-1 keeps every byte as one character, so regexes see binary files too.
            self._content = read_head(self.rootfs, self.entry, CONTENT_BYTES).decode("latin-1")
        return self._content


class FileIndexAnalyzer:
    name = "files"

    def analyze(
        self, image: AcquiredImage, rootfs: Rootfs, options: StaticOptions, progress: Progress
    ) -> AnalyzerResult:
        rules = [r for r in load_rules("static", options.extra_rules_dir) if r.subject == "file"]
        owned = package_owned_paths(rootfs)
        hits = RuleHits("static:files")
        task = "static: file index"
        progress.start(task, total=len(rootfs.entries), unit="files")
        for count, entry in enumerate(rootfs.entries, 1):
            subject = FileSubject(rootfs, entry, owned)
            for rule in rules:
                assert rule.matcher is not None
                hit = rule.matcher.evaluate(subject)
                if hit is not None:
                    hits.add(rule, _evidence(subject, hit.excerpts))
            if count % PROGRESS_STEP == 0:
                progress.advance(task, PROGRESS_STEP)
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
