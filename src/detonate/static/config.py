"""The image config: entrypoint + cmd, env, user, exposed ports, labels, healthcheck and the
build history, each an item that YAML rules with `subject: config` match.

Base64 literals decoded by an item are matched again as items of their own, so
`echo <b64 of "curl …|sh"> | base64 -d | sh` hits the download rule with the decoded text.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from detonate.model.filesystem import Rootfs
from detonate.model.findings import Evidence
from detonate.model.image import AcquiredImage, ImageConfig
from detonate.model.options import StaticOptions
from detonate.progress import Progress
from detonate.rules.loader import load_rules
from detonate.static.base64_stage import decoded_stages
from detonate.static.interface import AnalyzerResult
from detonate.static.rule_hits import RuleHits, excerpt


@dataclass(frozen=True)
class ConfigItem:
    part: str  # "command", "user", "env", "exposed_port", "label", "healthcheck", "history", …
    text: str
    index: int = 0
    layer_index: int | None = None  # history steps that made a layer
    decoded_from: str = ""  # set when `text` is a base64 stage decoded from another item

    def get(self, field: str) -> object:
        return {"part": self.part, "text": self.text, "index": self.index}.get(field)


def config_items(config: ImageConfig) -> Iterator[ConfigItem]:
    """Every item of the config, then the base64 stages they decode."""
    direct = list(_direct_items(config))
    yield from direct
    for item in direct:
        for stage in decoded_stages(item.text):
            yield ConfigItem(item.part, stage, item.index, item.layer_index, item.text)


def _direct_items(config: ImageConfig) -> Iterator[ConfigItem]:
    command = config.entrypoint + config.cmd
    if command:
        yield ConfigItem("command", shlex.join(command))
    yield ConfigItem("user", config.user)
    if config.working_dir:
        yield ConfigItem("workdir", config.working_dir)
    for index, variable in enumerate(config.env):
        yield ConfigItem("env", variable, index)
    for index, port in enumerate(config.exposed_ports):
        yield ConfigItem("exposed_port", port, index)
    for index, (key, value) in enumerate(config.labels):
        yield ConfigItem("label", f"{key}={value}", index)
    if config.healthcheck:
        yield ConfigItem("healthcheck", shlex.join(config.healthcheck))
    layer = 0
    for index, step in enumerate(config.history):
        yield ConfigItem("history", step.created_by, index, None if step.empty_layer else layer)
        if not step.empty_layer:
            layer += 1


class ConfigAnalyzer:
    name = "config"

    def analyze(
        self, image: AcquiredImage, rootfs: Rootfs, options: StaticOptions, progress: Progress
    ) -> AnalyzerResult:
        rules = [r for r in load_rules("static", options.extra_rules_dir) if r.subject == "config"]
        hits = RuleHits("static:config")
        for item in config_items(image.config):
            for rule in rules:
                assert rule.matcher is not None
                hit = rule.matcher.evaluate(item)
                if hit is None:
                    continue
                where = f"image config {item.part}"
                if item.part in ("env", "exposed_port", "label", "history"):
                    where += f" #{item.index}"
                if item.decoded_from:
                    where += ", decoded from base64"
                text = item.decoded_from or item.text
                matched = hit.excerpts[0] if hit.excerpts else ""
                hits.add(
                    rule,
                    Evidence(
                        description=where,
                        layer_index=item.layer_index,
                        excerpt=excerpt(text, matched),
                    ),
                )
        return AnalyzerResult(findings=hits.findings())
