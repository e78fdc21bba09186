"""Correlation detectors: what one event cannot show (sequences, pipelines, rates, sessions).

    findings = [f for detector in CORRELATORS for f in detector.detect(run_view)]

Each detector's rules keep their metadata in rules/builtin/runtime/<rule-id>.yaml
(`detector: <name>`, no match): see detonate.detect.correlations.metadata.
"""

from __future__ import annotations

from detonate.detect.correlations.account_backdoor import AccountBackdoor
from detonate.detect.correlations.beaconing import Beaconing
from detonate.detect.correlations.competitor_kill import CompetitorKill
from detonate.detect.correlations.container_escape import ContainerEscape
from detonate.detect.correlations.cpu_hijack import CpuHijack
from detonate.detect.correlations.credential_access import CredentialAccess
from detonate.detect.correlations.data_impact import DataImpact
from detonate.detect.correlations.decode_to_shell import DecodeToShell
from detonate.detect.correlations.discovery import Discovery
from detonate.detect.correlations.dns_shape import DnsShape
from detonate.detect.correlations.download_exec import DownloadExecChain
from detonate.detect.correlations.exfiltration import Exfiltration
from detonate.detect.correlations.flood import Flood
from detonate.detect.correlations.honeytokens import Honeytokens
from detonate.detect.correlations.host_mounts import HostMounts
from detonate.detect.correlations.interpreter_code import InterpreterCode
from detonate.detect.correlations.mining import Mining
from detonate.detect.correlations.network_scan import NetworkScan
from detonate.detect.correlations.persisted_commands import PersistedCommands
from detonate.detect.correlations.shell_text import ShellText
from detonate.detect.correlations.sleep_evasion import SleepBeforeActivity
from detonate.detect.correlations.timestomp import Timestomp
from detonate.detect.interface import Detector

CORRELATORS: tuple[Detector, ...] = (
    DownloadExecChain(),
    DecodeToShell(),
    InterpreterCode(),
    SleepBeforeActivity(),
    CompetitorKill(),
    NetworkScan(),
    Flood(),
    Mining(),
    Honeytokens(),
    HostMounts(),
    ContainerEscape(),
    Beaconing(),
    AccountBackdoor(),
    PersistedCommands(),
    Timestomp(),
    DataImpact(),
    CpuHijack(),
    CredentialAccess(),
    Discovery(),
    Exfiltration(),
    DnsShape(),
    ShellText(),  # last: its findings merge into the exec-based ones of the same rule
)
