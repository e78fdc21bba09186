"""Escapes that take more than one event to see.

- Through the container runtime: a container created with the Docker Engine API (over a
  socket or TCP 2375/2376, as the simulated internet saw the request), privileged or with the
  host's root bind-mounted, then started.
- Through cgroups v1: mount a cgroup hierarchy, then write its release_agent or
  notify_on_release — blocked or not.

Single attempts (a mount of a block device, a core_pattern write, setns, a module load) are
single-event rules of the rule engine.
"""

from __future__ import annotations

import re

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.interface import RunView
from detonate.model.events import FileOpenedForWrite, NetworkConnected, PrivilegedAttempt
from detonate.model.findings import Evidence, Finding
from detonate.model.netevents import DockerApiCalled

NAME = "container-escape"
CGROUP_CONTROL_FILES = ("/release_agent", "/notify_on_release")
# HostConfig of a create request (spaces removed) that hands the host over: its PID namespace,
# privileges, capabilities that break out, its disks
HOST_SHARING = re.compile(
    r'"PidMode":"host"|"Privileged":true'
    r'|"CapAdd":\[[^\]]*"(?:CAP_)?(?:ALL|SYS_ADMIN|SYS_MODULE|SYS_PTRACE|SYS_RAWIO|DAC_READ_SEARCH)"'
    r'|"PathOnHost":"/dev/(?:sd|vd|xvd|nvme|dm-|mem|kmem)',
    re.IGNORECASE,
)
# bind sources that are the host: its root, /proc, devices, config, the runtime socket
HOST_PATHS = frozenset(
    {"/", "/proc", "/dev", "/etc", "/root", "/boot", "/var/run/docker.sock", "/run/docker.sock"}
)


class ContainerEscape:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        return (*_docker_api(index), *_release_agent(index))


def _docker_api(index: RunIndex) -> list[Finding]:
    calls = [e for e in index.net_events if isinstance(e, DockerApiCalled)]
    creates = [c for c in calls if c.operation == "container.create"]
    if not creates:
        return []
    evidence = [_call_evidence(index, call) for call in creates[:5]]
    evidence += [
        _call_evidence(index, call)
        for call in calls
        if call.operation in ("container.start", "container.exec", "exec.start")
    ][:5]
    evidence += _socket_attempts(index)
    found = [finding("docker-api-container-deploy", NAME, evidence)]
    dangerous = [c for c in creates if _hands_over_host(c)]
    if dangerous:
        found.append(
            finding(
                "docker-api-privileged-container",
                NAME,
                [_call_evidence(index, call) for call in dangerous[:5]] + evidence[len(creates) :],
            )
        )
    return found


def _hands_over_host(call: DockerApiCalled) -> bool:
    sources = (bind.split(":", 1)[0].rstrip("/") or "/" for bind in call.binds)
    host_path = any(source in HOST_PATHS for source in sources)
    compact = call.body_preview.replace(" ", "")
    return call.privileged or host_path or bool(HOST_SHARING.search(compact))


def _call_evidence(index: RunIndex, call: DockerApiCalled) -> Evidence:
    pid = index.actor(call)
    details = []
    if call.image:
        details.append(f"image {call.image}")
    if call.cmd:
        details.append("cmd " + " ".join(call.cmd))
    if call.privileged:
        details.append("privileged")
    if call.binds:
        details.append("binds " + ", ".join(call.binds))
    return Evidence(
        description=f"Docker API {call.operation or call.method}: {call.method} {call.path}",
        event_ids=(call.seq,),
        process=index.chain(pid, call.seq) if pid else (),
        destination=index.net_destination(call),
        excerpt="; ".join(details) or call.body_preview[:500],
    )


def _socket_attempts(index: RunIndex) -> list[Evidence]:
    """Connects to a Docker socket path: where the sample looked for the runtime first."""
    out = []
    for event in index.events:
        if (
            isinstance(event, NetworkConnected)
            and event.family == "AF_UNIX"
            and event.address.endswith(("docker.sock", "containerd.sock", "crio.sock"))
        ):
            out.append(
                Evidence(
                    description="connected to the runtime socket"
                    + ("" if event.succeeded else f" (failed: {event.error})"),
                    path=event.address,
                    event_ids=(event.seq,),
                    process=index.chain(event.pid, event.seq),
                )
            )
    return out[:5]


def _mounts_cgroup(mount: PrivilegedAttempt) -> bool:
    """A cgroup hierarchy mounted (`mount -t cgroup -o rdma cgroup /tmp/cg`) or bound from
    the container's /sys/fs/cgroup."""
    return mount.fstype.startswith("cgroup") or "cgroup" in mount.source


def _release_agent(index: RunIndex) -> list[Finding]:
    mounts = [
        e
        for e in index.events
        if isinstance(e, PrivilegedAttempt) and e.call == "mount" and _mounts_cgroup(e)
    ]
    if not mounts:
        return []
    writes = [
        e
        for e in index.events
        if isinstance(e, FileOpenedForWrite)
        and e.path.endswith(CGROUP_CONTROL_FILES)
        and e.seq > mounts[0].seq
    ]
    if not writes:
        return []
    evidence = [
        Evidence(
            description="mounted a cgroup hierarchy"
            + ("" if mount.succeeded else f" (failed: {mount.error})"),
            excerpt=mount.args,
            event_ids=(mount.seq,),
            process=index.chain(mount.pid, mount.seq),
        )
        for mount in mounts[:3]
    ]
    evidence += [
        Evidence(
            description="wrote a cgroup control file"
            + ("" if write.succeeded else f" (failed: {write.error})"),
            path=write.path,
            event_ids=(write.seq,),
            process=index.chain(write.pid, write.seq),
        )
        for write in writes[:5]
    ]
    return [finding("cgroup-release-agent-escape", NAME, evidence)]
