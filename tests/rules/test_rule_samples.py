"""Every rule proves itself: each sample under samples/<rule-id>/ named hit* must make the rule
fire and each named miss* must not. A rule without both kinds of sample fails.

Sample files:
- `*.config.yaml`: an image config (see config_from_yaml), scanned with an empty rootfs;
- `*.files.yaml`: a list of rootfs entries (see files_from_yaml);
- `*.issues.yaml`: `issues:`, unpack issues ({layer_index, path, kind, detail}) of an empty rootfs;
- `*.events.yaml`: `events:`, a run's events (see detect.event_builder), given to every runtime
  detector (the rule engine and the correlators); optionally `honeytokens:` (Honeytoken fields:
  {path, kind, marker}) planted for the run, `host_mounts:` (HostMount fields: {source,
  destination}) binds served from the fake host tree, and `run:` (RunInfo fields such as
  duration_seconds, cpu_seconds) for detectors that need how the run went, `files:`
  ({path: text or !!binary}) files the run wrote, readable through RunView.file_bytes, and
  `image:` ({path: text or !!binary}) the files the image shipped (RunView.image_files): a file of
  `files:` that the image had is a modified one; `processes:` (ProcessInfo fields) the run's
  process table;
- anything else: raw file content, placed at /opt/sample/<file name>, mode 0755 when it
  starts with "#!" or "\\x7fELF", else 0644.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from detect.event_builder import events_from_data
from detonate.detect import RunView, runtime_findings
from detonate.model.filesystem import UnpackIssue
from detonate.model.options import StaticOptions
from detonate.model.runtime import (
    ChangeKind,
    ContentType,
    EndReason,
    FileChange,
    Honeytoken,
    HostMount,
    ProcessInfo,
    RunInfo,
    RunStatus,
)
from detonate.progress import NullProgress
from detonate.rules import load_rules
from detonate.static import analyze
from static.rootfs_builder import (
    SampleFile,
    build_rootfs,
    config_from_yaml,
    files_from_yaml,
    make_image,
)

SAMPLES = Path(__file__).parent / "samples"
RULES = load_rules("static") + load_rules("runtime")


def samples_of(rule_id: str) -> list[Path]:
    directory = SAMPLES / rule_id
    return sorted(directory.iterdir()) if directory.is_dir() else []


def cases() -> list[object]:
    params: list[object] = []
    for rule in RULES:
        for sample in samples_of(rule.meta.id):
            params.append(pytest.param(rule.meta.id, sample, id=f"{rule.meta.id}/{sample.name}"))
    return params


def fired_rules(sample: Path, tmp_path: Path) -> set[str]:
    if sample.name.endswith(".events.yaml"):
        run = run_from_yaml(yaml.safe_load(sample.read_text()), tmp_path / "artifacts")
        return {finding.rule_id for finding in runtime_findings(run)}
    image, files, issues = make_image(), [], ()
    if sample.name.endswith(".config.yaml"):
        image = make_image(config_from_yaml(yaml.safe_load(sample.read_text())))
    elif sample.name.endswith(".issues.yaml"):
        issues = tuple(UnpackIssue(**i) for i in yaml.safe_load(sample.read_text())["issues"])
    elif sample.name.endswith(".files.yaml"):
        files = files_from_yaml(yaml.safe_load(sample.read_text()))
    else:
        content = sample.read_bytes()
        executable = content.startswith((b"#!", b"\x7fELF"))
        files = [SampleFile(f"/opt/sample/{sample.name}", content, 0o755 if executable else 0o644)]
    rootfs = replace(build_rootfs(tmp_path / "rootfs", files), issues=issues)
    result = analyze(image, rootfs, StaticOptions(), NullProgress())
    return {finding.rule_id for finding in result.findings}


def run_from_yaml(doc: dict[str, Any], artifacts_dir: Path | None = None) -> RunView:
    events = events_from_data(doc["events"])
    image = doc.get("image", {})
    files = written_files(doc.get("files", {}), artifacts_dir, set(image))
    shipped = {path: _bytes(content) for path, content in image.items()}
    info = None
    if "run" in doc:
        done = {"status": RunStatus.COMPLETED, "ended_by": EndReason.EXITED, "events": len(events)}
        fields = {k: tuple(map(tuple, v)) if k == "limits" else v for k, v in doc["run"].items()}
        info = RunInfo(**done, **fields)
    tokens = tuple(Honeytoken(**token) for token in doc.get("honeytokens", ()))
    mounts = tuple(HostMount(**mount) for mount in doc.get("host_mounts", ()))
    processes = tuple(
        ProcessInfo(**{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()})
        for p in doc.get("processes", ())
    )
    return RunView(
        events=events,
        processes=processes,
        honeytokens=tokens,
        host_mounts=mounts,
        run=info,
        files=files,
        artifacts_dir=artifacts_dir,
        image_files=shipped,
        image_sizes={path: len(data) for path, data in shipped.items()},
    )


def _bytes(content: str | bytes) -> bytes:
    return content if isinstance(content, bytes) else content.encode()


def written_files(
    texts: dict[str, str | bytes], artifacts_dir: Path | None, shipped: set[str] | None = None
) -> tuple[FileChange, ...]:
    """`files:` of a sample as the run's copies of the files it wrote (modified when the
    image had them)."""
    if not texts:
        return ()
    assert artifacts_dir is not None
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    changes = []
    for number, (path, text) in enumerate(texts.items()):
        data = _bytes(text)
        (artifacts_dir / str(number)).write_bytes(data)
        changes.append(
            FileChange(
                path,
                ChangeKind.MODIFIED if path in (shipped or ()) else ChangeKind.CREATED,
                ContentType.SCRIPT if data.startswith(b"#!") else ContentType.OTHER,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                artifact=str(number),
            )
        )
    return tuple(changes)


def test_every_rule_has_hit_and_miss_samples() -> None:
    lacking = [
        rule.meta.id
        for rule in RULES
        if not any(p.name.startswith("hit") for p in samples_of(rule.meta.id))
        or not any(p.name.startswith("miss") for p in samples_of(rule.meta.id))
    ]
    assert lacking == []


def test_every_sample_directory_names_a_rule() -> None:
    known = {rule.meta.id for rule in RULES}
    assert sorted(p.name for p in SAMPLES.iterdir() if p.name not in known) == []


@pytest.mark.parametrize(("rule_id", "sample"), cases())
def test_rule_sample(rule_id: str, sample: Path, tmp_path: Path) -> None:
    fired = fired_rules(sample, tmp_path)
    if sample.name.startswith("hit"):
        assert rule_id in fired, f"{sample.name} should hit {rule_id}; fired: {sorted(fired)}"
    else:
        assert sample.name.startswith("miss"), f"sample {sample.name} must start with hit or miss"
        assert rule_id not in fired, f"{sample.name} should not hit {rule_id}"
