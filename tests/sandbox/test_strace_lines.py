from __future__ import annotations

from detonate.sandbox.tracing.strace.lines import (
    Exit,
    Lost,
    Superseded,
    Syscall,
    Unparsed,
    fd_annotation,
    read_records,
    split_args,
    string_list,
    unquote,
)


def as_file(lines: list[str]) -> list[str]:
    return [line + "\n" for line in lines]


def test_split_args_keeps_strings_brackets_and_fd_annotations_whole() -> None:
    args = split_args(
        "3<TCP:[10.0.0.2:1234->192.0.2.1:80]>, {sa_family=AF_INET, sin_port=htons(80)}, 16"
    )
    assert args == [
        "3<TCP:[10.0.0.2:1234->192.0.2.1:80]>",
        "{sa_family=AF_INET, sin_port=htons(80)}",
        "16",
    ]
    assert string_list('["sh", "-c", "a, \\"b\\""]') == ("sh", "-c", 'a, "b"')


def test_unlinked_files_keep_their_deleted_mark_outside_the_annotation() -> None:
    # strace 6.1: the " (deleted)" of /proc/PID/fd/N is printed after the closing `>`
    (memfd, fexecve) = read_records(
        as_file(
            [
                '9 1.0 memfd_create("payload", 0) = 3</memfd:payload>(deleted)',
                '9 1.1 execveat(3</memfd:payload>(deleted), "", ["kworker"], 0x7f /* 0 vars */, '
                "AT_EMPTY_PATH) = 0",
            ]
        )
    )
    assert isinstance(memfd, Syscall) and memfd.ret_annotation == "/memfd:payload (deleted)"
    assert isinstance(fexecve, Syscall) and len(fexecve.args) == 5
    assert fd_annotation(fexecve.args[0]) == ("3", "/memfd:payload (deleted)")
    assert fexecve.args[1:3] == ('""', '["kworker"]')


def test_unquote_decodes_escapes_and_drops_truncation_marker() -> None:
    assert unquote('"a\\nb\\x41\\101"...') == "a\nbAA"


def test_unfinished_and_resumed_lines_of_interleaved_threads_are_joined() -> None:
    lines = [
        "10 1.000000 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>",
        '11 1.100000 execve("/bin/x", ["x"], 0x1 /* 2 vars */ <unfinished ...>',
        "10 1.200000 <... clone resumed>, child_tidptr=0x5) = 6 /* 11 in strace's PID NS */",
        "11 1.300000 <... execve resumed>) = 0",
    ]
    clone, execve = list(read_records(as_file(lines)))
    assert isinstance(clone, Syscall) and clone.name == "clone"
    assert clone.ts == 1.0 and clone.ret == 6 and clone.ret_host_pid == 11
    assert isinstance(execve, Syscall) and execve.args[0] == '"/bin/x"' and execve.succeeded


def test_exit_kill_superseded_and_failures_are_typed() -> None:
    lines = [
        "5 2.0 +++ exited with 3 +++",
        "6 2.0 +++ killed by SIGKILL +++",
        "7 2.0 +++ superseded by execve in pid 9 +++",
        "openat(garbage without a head",
        '8 2.0 execve("/nope", ["/nope"], 0x1 /* 1 var */) = -1 ENOENT (No such file or directory)',
        '8 2.1 mount("/dev/vda", "/mnt", "ext4", 0, NULL) = -1 EPERM (Operation not permitted)',
    ]
    records = list(read_records(as_file(lines)))
    assert records[0] == Exit(5, 2.0, 3)
    assert records[1] == Exit(6, 2.0, None, "SIGKILL")
    assert records[2] == Superseded(7, 2.0, former_tid=9)  # 7 leads; thread 9 exec'd
    assert isinstance(records[3], Unparsed)
    failed = records[4]
    assert isinstance(failed, Syscall) and failed.errno == "ENOENT" and not failed.succeeded


def test_a_call_still_blocked_at_the_end_is_kept_as_not_returned() -> None:
    (record,) = read_records(["4 3.0 accept(3<TCP:[0.0.0.0:80]>, NULL, NULL <unfinished ...>\n"])
    assert isinstance(record, Syscall) and record.name == "accept" and record.ret is None


def test_a_line_cut_off_at_the_end_and_a_resumption_without_its_start_are_lost() -> None:
    lines = [
        "9 4.0 <... read resumed>) = 5\n",
        "9 4.1 +++ exited with 0 +++\n",
        '10 4.2 openat(AT_FDCWD</>, "/etc/pa',
    ]
    records = list(read_records(lines))
    assert [type(r) for r in records] == [Lost, Exit, Lost]


def test_an_execve_of_a_non_leader_thread_resumes_under_the_leader() -> None:
    # A Go program's syscall.Exec runs on whichever thread: strace starts the call under the
    # thread and finishes it under the leader, whose pid the new program keeps.
    lines = [
        '2165 1.0 execve("/usr/local/bin/xmrig", ["xmrig"], 0x1 /* 1 var */ <unfinished ...>',
        "2136 1.1 +++ superseded by execve in pid 2165 +++",
        "2136 1.2 <... execve resumed>) = 0",
        '2136 1.3 openat(AT_FDCWD</>, "/etc/resolv.conf", O_RDONLY) = 3</etc/resolv.conf>',
    ]
    superseded, execve, opened = list(read_records(as_file(lines)))
    assert superseded == Superseded(2136, 1.1, former_tid=2165)
    assert isinstance(execve, Syscall) and execve.name == "execve" and execve.succeeded
    assert execve.pid == 2136 and execve.ts == 1.0
    assert isinstance(opened, Syscall) and opened.pid == 2136
