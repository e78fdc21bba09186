"""The YARA rules also work with classic `yara` (4.2, Debian): same compile, same verdicts on the
samples, so the benchmark can compare both tools on the same rules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from detonate.rules import load_rules

SAMPLES = Path(__file__).parent / "samples"
YARA = shutil.which("yara")
YARA_RULES = [rule for rule in load_rules("static") if rule.is_yara]

pytestmark = pytest.mark.skipif(YARA is None, reason="the yara command is not installed")


@pytest.mark.parametrize("rule", YARA_RULES, ids=[r.meta.id for r in YARA_RULES])
def test_classic_yara_agrees_on_samples(rule) -> None:  # type: ignore[no-untyped-def]
    assert YARA is not None
    directory = SAMPLES / rule.meta.id
    run = subprocess.run(
        [YARA, "--fail-on-warnings", str(rule.path), str(directory)],
        capture_output=True,
        text=True,
        check=True,
    )
    name = rule.meta.id.replace("-", "_")
    matched = {
        Path(line.split(" ", 1)[1]).name
        for line in run.stdout.splitlines()
        if line.startswith(name + " ")
    }
    expected = {s.name for s in directory.iterdir() if s.name.startswith("hit")}
    assert matched == expected
