"""`detonate image …` end to end, in-process through `main(argv)`, on images the factory built:
from an oci-archive, an oci layout and a real registry, as a user would run it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from detonate.cli.main import main
from detonate.report import json_report, sarif

PLANTED_RULES = {
    "file-private-key",
    "file-aws-credentials",
    "file-miner-name",
    "file-cron-download-shell",
    "file-ld-so-preload",
}


def scan(tmp_path: Path, ref: str, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "report.json"
    code = main(
        [
            "image",
            ref,
            "--static-only",
            "--format",
            "json",
            "--output",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            *extra,
        ]
    )
    document = json.loads(out.read_text()) if out.exists() else {}
    if document:
        json_report.validate(document)
    return code, document


def test_oci_archive_of_planted_sample_is_malicious_with_static_findings(tmp_path, built_samples):
    code, report = scan(tmp_path, built_samples["planted-static"].archive_reference)
    assert code == 1  # default --fail-on malicious
    assert report["verdict"] == "malicious"
    rules = {f["rule_id"] for f in report["findings"]}
    assert rules >= PLANTED_RULES, PLANTED_RULES - rules
    assert all(not f["runtime_only"] for f in report["findings"])
    assert report["image"]["digest"].startswith("sha256:")
    assert report["image"]["platform"] == "linux/amd64"
    assert report["iocs"]["wallets"], "the fake Monero wallet in the miner script"


def test_oci_layout_of_benign_web_is_clean_and_exits_zero(tmp_path, built_samples):
    code, report = scan(tmp_path, built_samples["benign-web"].oci_reference)
    assert (code, report["verdict"]) == (0, "clean")
    assert all(f["severity"] in ("info", "low") for f in report["findings"])


@pytest.mark.registry
def test_registry_reference_scans_end_to_end(tmp_path, registry, built_samples):
    ref = registry.push(built_samples["planted-static"].oci_reference, "team/planted:1")
    assert ref.startswith("docker://127.0.0.1:")
    code, report = scan(tmp_path, ref, "--unsafe-skip-tls-verify")
    assert report["verdict"] == "malicious"
    assert report["image"]["reference"] == ref
    assert code == 1


@pytest.mark.registry
def test_unknown_tag_is_a_clear_error_with_exit_two(tmp_path, registry, capsys):
    code, report = scan(
        tmp_path, registry.reference("team/nothing:here"), "--unsafe-skip-tls-verify"
    )
    assert code == 2
    assert report["verdict"] == "error"
    assert report["error"]["stage"] == "acquire"
    assert report["error"]["kind"] == "ImageNotFound"
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error" in err


@pytest.mark.parametrize(
    ("fail_on", "expected"), [("never", 0), ("suspicious", 1), ("malicious", 1)]
)
def test_fail_on_gates_the_exit_code(tmp_path, built_samples, fail_on, expected):
    code, _ = scan(
        tmp_path, built_samples["planted-static"].archive_reference, "--fail-on", fail_on
    )
    assert code == expected


def test_usage_error_exits_two_without_traceback(capsys):
    assert main(["image", "x", "--format", "pdf"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and "Traceback" not in err


def test_unknown_transport_is_a_usage_error(tmp_path, capsys):
    code, report = scan(tmp_path, "ftp://example.test/image")
    assert code == 2
    assert report == {} or report["verdict"] == "error"


def test_sarif_output_validates_against_the_official_schema(tmp_path, built_samples):
    out = tmp_path / "report.sarif"
    ref = built_samples["planted-static"].archive_reference
    code = main(
        [
            "image",
            ref,
            "--static-only",
            "--format",
            "sarif",
            "-o",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--fail-on",
            "never",
        ]
    )
    assert code == 0
    log = json.loads(out.read_text())
    jsonschema.validators.validator_for(sarif.schema())(sarif.schema()).validate(log)
    assert log["runs"][0]["results"]


def test_html_and_ioc_exports_are_written(tmp_path, built_samples):
    ref = built_samples["planted-static"].archive_reference
    html, csv, stix = tmp_path / "r.html", tmp_path / "iocs.csv", tmp_path / "iocs.json"
    main(
        [
            "image",
            ref,
            "--static-only",
            "--format",
            "html",
            "-o",
            str(html),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--iocs",
            str(csv),
        ]
    )
    main(
        [
            "image",
            ref,
            "--static-only",
            "--format",
            "table",
            "-o",
            str(tmp_path / "t.txt"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--iocs",
            str(stix),
        ]
    )
    assert "<html" in html.read_text().lower()
    assert csv.read_text().startswith("type,value,context")
    assert json.loads(stix.read_text())["type"] == "bundle"
    assert "MALICIOUS" in (tmp_path / "t.txt").read_text()


@pytest.mark.sandbox
def test_dynamic_run_reports_processes_and_run_summary(tmp_path, built_samples):
    out = tmp_path / "report.json"
    code = main(
        [
            "image",
            built_samples["planted-static"].archive_reference,
            "--format",
            "json",
            "-o",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--fail-on",
            "never",
            "--timeout",
            "30",
        ]
    )
    report = json.loads(out.read_text())
    json_report.validate(report)
    assert code == 0
    assert report["run"]["status"] == "exited"
    assert report["run"]["exit_code"] == 0
    # The sample's five `sleep 1` were compressed: most of each second is skipped; the rest
    # passes for real while the time keeper sees every process waiting (slower when loaded:
    # 3.9 s of the 5 was seen once at load 20).
    assert report["run"]["skipped_sleep_seconds"] >= 3
    first = report["processes"][0]
    assert first["argv"][:2] == ["/bin/sh", "-c"]  # traced from the entrypoint's first exec
    assert any(p["argv"][0] == "sleep" for p in report["processes"])
    assert report["files"] == []  # the sample writes nothing; runtime setup is not counted


def test_unpack_limit_flag_is_honoured_and_named_in_the_hint(tmp_path, built_samples, capsys):
    code, report = scan(
        tmp_path, built_samples["planted-static"].archive_reference, "--max-files", "10"
    )
    assert code == 2
    assert report["error"]["kind"] == "LimitExceeded"
    assert "--max-files" in report["error"]["hint"]
    assert "--max-files" in capsys.readouterr().err


def test_ignore_file_suppresses_by_rule_and_path_and_keeps_an_audit_trail(tmp_path, built_samples):
    ignore = tmp_path / ".detonateignore"
    ignore.write_text(
        "file-private-key   path=/root/.ssh/*   # test fixture key\nfile-aws-credentials\n"
    )
    ref = built_samples["planted-static"].archive_reference
    _, before = scan(tmp_path, ref, "--fail-on", "never")
    _, after = scan(tmp_path, ref, "--fail-on", "never", "--ignore-file", str(ignore))
    rules_after = {f["rule_id"] for f in after["findings"]}
    assert {"file-private-key", "file-aws-credentials"} <= {
        f["rule_id"] for f in before["findings"]
    }
    assert not {"file-private-key", "file-aws-credentials"} & rules_after
    assert {f["rule_id"] for f in after["suppressed"]} == {
        "file-private-key",
        "file-aws-credentials",
    }
    assert len(after["findings"]) == len(before["findings"]) - 2


def test_a_broken_ignore_file_is_a_usage_error(tmp_path, built_samples):
    ignore = tmp_path / "bad-ignore"
    ignore.write_text("suppress: 42\n")
    code, report = scan(
        tmp_path, built_samples["planted-static"].archive_reference, "--ignore-file", str(ignore)
    )
    assert code == 2
    assert report["verdict"] == "error"


@pytest.mark.sandbox
def test_readme_demo_sample_is_static_clean_and_malicious_when_run(tmp_path, built_samples):
    # The README's first scan (scripts/scan-sample.sh) must show why detonate exists.
    reference = built_samples["delayed-dropper"].archive_reference
    _, static = scan(tmp_path, reference)
    assert static["verdict"] == "clean"
    out = tmp_path / "full.json"
    code = main(
        ["image", reference, "--format", "json", "-o", str(out), "--cache-dir",
         str(tmp_path / "cache"), "--timeout", "30"]
    )  # fmt: skip
    report = json.loads(out.read_text())
    json_report.validate(report)
    assert (code, report["verdict"]) == (1, "malicious")
    runtime = {f["rule_id"] for f in report["findings"] if f["runtime_only"]}
    assert {"sleep-before-activity", "download-pipe-shell", "download-write-exec"} <= runtime
    assert report["run"]["skipped_sleep_seconds"] >= 590  # the ten-minute warm-up
