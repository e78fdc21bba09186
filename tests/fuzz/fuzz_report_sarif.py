"""SARIF 2.1.0 given hostile strings everywhere an image can put them.

Contract: `dumps` gives JSON text that reads back to what `render` built and validates against
the vendored SARIF schema (lone surrogates may remain: the writers encode with backslashreplace).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fuzz_harness import check
from fuzz_report_input import hostile_report
from fuzz_report_input import seeds as report_seeds

from detonate.report import sarif

TIME_BOUND = 10.0


def seeds() -> Iterator[bytes]:
    yield from report_seeds()


def fuzz(data: bytes) -> None:
    report = hostile_report(data)
    document = sarif.dumps(report)
    log = json.loads(document)
    check(log["runs"][0]["results"][0]["ruleId"] == "stratum-login", "results lost")
    sarif.validate(log)
