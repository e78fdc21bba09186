"""What counts as the sample doing something new: a trace line unlike the ones before."""

from __future__ import annotations

from pathlib import Path

from detonate.sandbox.tracing.strace.novelty import TraceNovelty

ROUND = (
    '{pid} 1795818{t}.666156 openat(AT_FDCWD</>, "/var/lib/pg/base/5/{rel}", O_RDWR) = {fd}\n'
    "{pid} 1795818{t}.666200 clone(child_stack=NULL, flags=SIGCHLD) = {child}\n"
)


def test_a_worker_round_repeated_with_other_numbers_is_not_new(tmp_path: Path) -> None:
    trace = tmp_path / "trace.log"
    novelty = TraceNovelty(trace)
    assert novelty() == 0  # no trace yet
    trace.write_text(ROUND.format(pid=100, t=1, rel=1259, fd=7, child=101))
    first = novelty()
    assert first == 2
    with open(trace, "a") as more:
        more.write(ROUND.format(pid=230, t=9, rel=2608, fd=12, child=231))
    assert novelty() == first  # the same calls again: a loop's round
    with open(trace, "a") as more:
        more.write('230 1795818300.1 execve("/tmp/payload", ["payload"], 0x1 /* 1 var */) = 0\n')
        more.write("230 1795818300.2 connect(3, {sa_family=AF_INET, sin_port=htons(3333)")
    assert novelty() == first + 1  # the unterminated last line waits for its end
    with open(trace, "a") as more:
        more.write(", ...}, 16) = 0\n")
    assert novelty() == first + 2


def test_effects_count_what_changes_things_not_probes_or_reads(tmp_path: Path) -> None:
    """A health loop's `echo ok > /tmp/health` and a connect are effects; busybox timeout's
    `kill(pid, 0)`, a library opened for reading, a redirect to /dev/null, a new program and
    a signal to a thread (a heartbeat thread's `pthread_kill` of main) are not."""
    trace = tmp_path / "trace.log"
    novelty = TraceNovelty(trace)
    trace.write_text(
        '7 1.1 execve("/bin/sleep", ["sleep", "5"], 0x1 /* 3 vars */) = 0\n'
        '7 1.2 openat(AT_FDCWD</>, "/lib/libc.so.6", O_RDONLY|O_CLOEXEC) = 3</lib/libc.so.6>\n'
        "8 1.3 kill(9, 0) = 0\n"
        "8 1.4 tgkill(9, 9, 0) = 0\n"
        "10 1.45 tgkill(9, 9, SIGUSR1) = 0\n"
        '8 1.5 openat(AT_FDCWD</>, "/dev/null", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 1</dev/null>\n'
    )
    assert novelty.effects_so_far() == 0
    with open(trace, "a") as more:
        more.write('8 2.1 openat(AT_FDCWD</>, "/tmp/health", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3\n')
        more.write("8 2.2 connect(3, {sa_family=AF_INET, sin_port=htons(80)}, 16) = 0\n")
        more.write("8 2.3 kill(9, SIGTERM) = 0\n")
        more.write('8 2.4 unlink("/tmp/.w") = 0\n')
    assert novelty.effects_so_far() == 4
