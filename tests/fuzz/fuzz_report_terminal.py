"""The terminal summary given hostile strings, control characters and rich markup included.

Contract: `render` prints; no control character of the input reaches the terminal (an image's
file name must not move the cursor, retitle the window or clear the screen), and text that
looks like rich markup is printed, not interpreted; the text encodes as UTF-8 (stdout is strict).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

from fuzz_harness import check
from fuzz_report_input import hostile_report
from fuzz_report_input import seeds as report_seeds
from rich.console import Console

from detonate.report import table

TIME_BOUND = 10.0
# C0 controls but newline, DEL and C1 controls: what a terminal acts on
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def seeds() -> Iterator[bytes]:
    yield from report_seeds()


def fuzz(data: bytes) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=120)
    table.render(hostile_report(data), console)
    shown = out.getvalue()
    bad = CONTROL.search(shown)
    check(bad is None, f"control character {bad and bad[0]!r} reached the terminal")
    shown.encode("utf-8")  # a UTF-8 stdout refuses lone surrogates (undecodable bytes)
