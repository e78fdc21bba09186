"""The HTML report given hostile strings everywhere an image can put them.

Contract: a str; every hostile string is escaped (no "<" of ours reaches the page raw). Lone
surrogates (undecodable bytes) may remain: the CLI and the API encode with backslashreplace.
"""

from __future__ import annotations

from collections.abc import Iterator

from fuzz_harness import check
from fuzz_report_input import hostile_report
from fuzz_report_input import seeds as report_seeds

from detonate.report import html

TIME_BOUND = 10.0


def seeds() -> Iterator[bytes]:
    yield from report_seeds()


def fuzz(data: bytes) -> None:
    page = html.render(hostile_report(data))
    check(isinstance(page, str), "render() gave no str")
    check("<fz" not in page, "a hostile string reached the page unescaped")
