"""IOC extraction over the image config and the strings of the files that matter.

Which files and how much of them: ioc_scope.py. The indicators of a file's bytes come from the
content pass (found with yara-x, cached by sha256); what they mean depends on the path and is
decided here on every scan. IOCs alone are not findings; YAML rules with `subject: ioc` decide
which are (a pool URL, a wallet).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from detonate.model.filesystem import FileEntry, Rootfs
from detonate.model.findings import Evidence
from detonate.model.image import AcquiredImage
from detonate.model.iocs import Iocs
from detonate.model.options import StaticOptions
from detonate.progress import Progress
from detonate.rules.loader import load_rules
from detonate.static.config import config_items
from detonate.static.content_pass import content_key, content_results, indicators_in
from detonate.static.file_reading import read_head
from detonate.static.indicators import Found, find_indicators
from detonate.static.interface import AnalyzerResult
from detonate.static.ioc_scope import FILE_BYTES, ioc_reads
from detonate.static.rule_hits import RuleHits
from detonate.static.yara_rules import compiled_rules

MAX_PER_KIND = 1000  # IOCs kept per kind (sorted), so a huge tree cannot flood the report
CONFIG_PATH = "image config"


@dataclass(frozen=True)
class IocSubject:
    kind: str  # "domain", "ip", "url", "pool", "wallet"
    value: str
    path: str  # file it came from, or "image config"
    coin: str = ""

    def get(self, field: str) -> object:
        return {"kind": self.kind, "value": self.value, "path": self.path, "coin": self.coin}.get(
            field
        )


def subjects(found: Found, path: str, binary: bool = False) -> Iterator[IocSubject]:
    """In compiled binaries bare names and addresses are mostly help texts and version numbers
    ("192.168.0.20" in busybox's), so only URLs, pools and wallets count there."""
    kinds = [("url", found.urls), ("pool", found.pools)]
    if not binary:
        kinds += [("domain", found.domains), ("ip", found.ips)]
    for kind, values in kinds:
        for value in sorted(values):
            yield IocSubject(kind, value, path)
    for address, coin in sorted(found.wallets.items()):
        yield IocSubject("wallet", address, path, coin)


class IocAnalyzer:
    name = "iocs"

    def analyze(
        self, image: AcquiredImage, rootfs: Rootfs, options: StaticOptions, progress: Progress
    ) -> AnalyzerResult:
        rules = [r for r in load_rules("static", options.extra_rules_dir) if r.subject == "ioc"]
        hits = RuleHits("static:iocs")
        collected: dict[str, set[str]] = {k: set() for k in ("url", "pool", "domain", "ip")}
        wallets: set[str] = set()

        def record(found: Found, path: str, entry: FileEntry | None, binary: bool = False) -> None:
            for subject in subjects(found, path, binary):
                (wallets if subject.kind == "wallet" else collected[subject.kind]).add(
                    subject.value
                )
                for rule in rules:
                    assert rule.matcher is not None
                    if rule.matcher.evaluate(subject) is not None:
                        hits.add(rule, _evidence(subject, entry))

        for item in config_items(image.config):
            found = find_indicators(item.text.encode("utf-8", "replace"))
            if found:
                record(found, CONFIG_PATH, None)

        results = content_results(rootfs, options, progress)
        for entry, limit in ioc_reads(rootfs):
            facts = results.iocs.get(content_key(entry))
            if facts is None or limit < min(entry.size, FILE_BYTES):
                # The file the budget runs out in is read in part, as it always was.
                compiled = compiled_rules(options.extra_rules_dir)
                facts = indicators_in(read_head(rootfs, entry, limit), compiled)
            if facts.found:
                record(facts.found, entry.path, entry, binary=facts.elf)

        def capped(values: set[str]) -> tuple[str, ...]:
            return tuple(sorted(values)[:MAX_PER_KIND])

        iocs = Iocs(
            domains=capped(collected["domain"]),
            ips=capped(collected["ip"]),
            urls=capped(collected["url"]),
            wallets=capped(wallets),
            pools=capped(collected["pool"]),
        )
        return AnalyzerResult(findings=hits.findings(), iocs=iocs)


def _evidence(subject: IocSubject, entry: FileEntry | None) -> Evidence:
    kind = f"{subject.coin} wallet" if subject.coin else subject.kind
    return Evidence(
        description=f"{kind} in {subject.path}",
        path=entry.path if entry else "",
        layer_index=entry.layer_index if entry else None,
        sha256=entry.sha256 if entry else "",
        excerpt=subject.value,
    )
