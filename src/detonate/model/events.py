"""Facts observed while the sample ran, in past tense. One ordered stream per run.

Every event carries who did it (pid, ppid, exe, argv) and when (seq, ts). Concrete kinds
subclass `Event` and add typed fields; `kind` names them in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "event"

    seq: int  # position in the run's stream, from 0
    ts: float  # seconds since the container started
    pid: int  # host-visible pid of the actor; 0 when not (yet) attributed
    ppid: int = 0
    exe: str = ""
    argv: tuple[str, ...] = ()
