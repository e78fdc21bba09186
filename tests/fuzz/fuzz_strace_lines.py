"""strace output lines → records (`read_records`) and the argument helpers the interpreter uses.

Contract: every line becomes a record of one of the documented kinds (a line that is not
strace's is `Unparsed`, a cut-off one `Lost`); the helpers return text. Nothing raises.
"""

from __future__ import annotations

from collections.abc import Iterator

from fuzz_harness import TESTS, check, files_under, text, windows

from detonate.sandbox.tracing.strace.lines import (
    Exit,
    Lost,
    SignalDelivered,
    Superseded,
    Syscall,
    Unparsed,
    fd_annotation,
    read_records,
    split_args,
    string_list,
    unquote,
)

RECORDS = (Syscall, Exit, Superseded, SignalDelivered, Unparsed, Lost)
TIME_BOUND = 5.0


def seeds() -> Iterator[bytes]:
    yield from windows(files_under(TESTS / "sandbox" / "corpus", "*.strace"), 6)


def fuzz(data: bytes) -> None:
    lines = text(data).splitlines(keepends=True)
    for record in read_records(lines):
        check(isinstance(record, RECORDS), f"read_records yielded {record!r}")
        if isinstance(record, Syscall):
            check(isinstance(split_args(record.raw_args), list), "split_args")
            for arg in record.args:
                check(isinstance(unquote(arg), str), "unquote")
                fd, path = fd_annotation(arg)
                check(isinstance(fd, str) and isinstance(path, str), "fd_annotation")
                check(isinstance(string_list(arg), tuple), "string_list")
