"""Every scenario of the corpus (THREATS.md 1–21, B1–B7), scanned end to end in the sandbox
with the simulated internet, gives the verdict, categories and techniques EXPECTED.yaml names,
each required technique from the detection the sample declares (rule and cited event kinds)."""

from __future__ import annotations

import pytest
import yaml

from detonate.factory.build import build_all
from detonate.factory.debootstrap import debootstrap_unavailable

from .corpus import (
    HOLDOUT,
    HOLDOUT_EXPECTED,
    SCENARIOS,
    VARIANTS,
    VARIANTS_EXPECTED,
    WILD,
    WILD_EXPECTED,
    Expectation,
    load_expectations,
    run_scenario,
    write_archive,
)

EXPECTATIONS = load_expectations()


@pytest.fixture(scope="session")
def scenario_archives(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenarios")
    return {built.name: built.archive for built in build_all(SCENARIOS, out)}


@pytest.fixture(scope="session")
def corpus_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus-cache")


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_scenario_is_judged_as_expected(name, scenario_archives, corpus_cache):
    expectation = EXPECTATIONS[name]
    outcome = run_scenario(expectation, scenario_archives[name], corpus_cache)
    assert not outcome.error, outcome.error
    assert outcome.verdict in expectation.acceptable, (
        f"{name}: verdict {outcome.verdict} (score {outcome.score}), expected "
        f"{expectation.acceptable}; techniques found {outcome.techniques}"
    )
    assert not outcome.missing_categories, f"{name}: missing {outcome.missing_categories}"
    assert not outcome.missing_techniques, f"{name}: missing {outcome.missing_techniques}"
    assert not outcome.wrong_detections, f"{name}: {'; '.join(outcome.wrong_detections)}"


REAL = sorted(p.name for p in (SCENARIOS.parent / "real").iterdir() if p.is_dir())


@pytest.fixture(scope="session")
def real_archives(tmp_path_factory):
    reason = debootstrap_unavailable()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("real")
    return {built.name: built.archive for built in build_all(SCENARIOS.parent / "real", out)}


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_real_software_runs_clean(name, real_archives, corpus_cache):
    """nginx, redis and postgres from Debian packages, run as their entrypoints run them."""
    expectation = Expectation(name, "real", "Debian package", "clean", ("clean",))
    outcome = run_scenario(expectation, real_archives[name], corpus_cache)
    assert not outcome.error, outcome.error
    assert outcome.verdict == "clean", f"{name}: score {outcome.score}, {outcome.techniques}"


VARIANT_EXPECTATIONS = load_expectations(VARIANTS_EXPECTED)
# Variants the current detections still get wrong, each with the reason (see
# docs/detection-matrix.md). Strict: a variant that starts passing must leave this list.
KNOWN_MISSES: dict[str, str] = {
    "v05b-cat-copy-nc-fallback": (
        "the busybox copy made with cat refuses its foreign argv[0], so no renamed tool ever "
        "runs (nc downloads instead): T1036.003 has nothing to see; and the script nc fetched "
        "reaches sh through a shell variable and printf, which provenance does not follow: "
        "T1105 comes only from incidental rules (a failed curl's argv, the busybox clone run)"
    ),
    "v11b-dropbear-symlinked-keys": (
        "root's keys written through a symlink are seen at their real path (high), but nothing "
        "else in the run adds up to malicious: suspicious 44"
    ),
}


@pytest.fixture(scope="session")
def variant_archives(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants")
    return {built.name: built.archive for built in build_all(VARIANTS, out)}


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n]))
        if n in KNOWN_MISSES
        else n
        for n in sorted(VARIANT_EXPECTATIONS)
    ],
)
def test_variant_is_judged_as_expected(name, variant_archives, corpus_cache):
    expectation = VARIANT_EXPECTATIONS[name]
    outcome = run_scenario(expectation, variant_archives[name], corpus_cache)
    assert not outcome.error, outcome.error
    missing = outcome.missing_categories + outcome.missing_techniques
    assert outcome.ok, (
        f"{name}: verdict {outcome.verdict} (score {outcome.score}), expected "
        f"{expectation.acceptable}; missing {missing}; {'; '.join(outcome.wrong_detections)}"
    )


WILD_EXPECTATIONS = load_expectations(WILD_EXPECTED)
# Wild samples (issue 9) the current detections get wrong, each with what a scan saw ("before"
# in docs/detection-matrix.md). Strict: a sample that starts passing must leave this list.
WILD_KNOWN_MISSES: dict[str, str] = {
    "b07-py-migration-written-then-run": (
        "benign release step called suspicious 49: the migration script it renders into /tmp "
        "and runs is taken for a dropped payload (exec-dropped-file, exec-from-volatile-dir, "
        "script from a scratch path); provenance knows its bytes are local (exec `provenance`"
        " field) but exec-dropped-file does not use it: that cost w20 its malicious verdict"
    ),
}


@pytest.fixture(scope="session")
def wild_build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("wild")


def _wild_archive(name, out, corpus=WILD):
    """Build one wild (or held-out) sample as an OCI archive only (no layout: the Debian-based
    ones are ~110 MB each). They share one debootstrap package layer, which the factory caches,
    and are skipped where debootstrap cannot run."""
    recipe = yaml.safe_load((corpus / name / "image.yaml").read_text())
    if recipe.get("base") == "debootstrap":
        reason = debootstrap_unavailable()
        if reason:
            pytest.skip(reason)
    return write_archive(corpus / name, out)


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        # raises=AssertionError: a build or sandbox failure is not the known miss
        pytest.param(n, marks=pytest.mark.xfail(raises=AssertionError, strict=True, reason=r))
        if (r := WILD_KNOWN_MISSES.get(n))
        else n
        for n in sorted(WILD_EXPECTATIONS)
    ],
)
def test_wild_sample_is_judged_as_expected(name, wild_build_dir, corpus_cache):
    expectation = WILD_EXPECTATIONS[name]
    outcome = run_scenario(expectation, _wild_archive(name, wild_build_dir), corpus_cache)
    assert not outcome.error, outcome.error
    missing = outcome.missing_categories + outcome.missing_techniques
    assert outcome.ok, (
        f"{name}: verdict {outcome.verdict} (score {outcome.score}), expected "
        f"{expectation.acceptable}; found {outcome.techniques}; missing {missing}; "
        f"{'; '.join(outcome.wrong_detections)}"
    )


HOLDOUT_EXPECTATIONS = load_expectations(HOLDOUT_EXPECTED)
# Held-out samples (issue 9) the current detections get wrong, each with what a scan on main after
# c2exfil9 saw (docs/holdout.md has the first pass and today's). Strict: a sample that starts
# passing must leave this list. h06, h11, h13, h16, h17, h20 and h25 left it with c2exfil9.
HOLDOUT_KNOWN_MISSES: dict[str, str] = {
    "h01-perl-wordlist-dga-hexquery": (
        "clean 0: ten lookups of wordlist-generated .test names and a GET whose query is hex of "
        "uname and uid still raise nothing (no T1568.002, T1082)"
    ),
    "h02-c-dns-label-beacon": (
        "clean 10: five A queries whose labels are hex of the node name and kernel release, "
        "25-55 s apart, are not called DNS C2 nor host facts sent (no T1071.004, T1082); only "
        "the delay is seen (T1497.003)"
    ),
    "h03-node-random-path-header-beacon": (
        "suspicious 16: the base64 host facts in a header are seen leaving (host-facts-sent-out, "
        "T1082), but six GETs of random paths 12-21 s apart are not called beaconing (no "
        "T1071.001) and it stays below malicious"
    ),
    "h04-busybox-nc-cookie-beacon": (
        "suspicious 21: every technique is named (HTTP polling T1071.001; T1082 only from "
        "discovery-system-information's file reads, the cookie is not followed to the send) "
        "but it stays below malicious"
    ),
    "h05-go-sha-dga-tls-cookie": (
        "malicious 80: the SHA-256 DGA is seen (dga-lookups, T1568.002), but the host facts in "
        "the HTTPS beacons' cookie are not (no T1082, no propagation)"
    ),
    "h07-bash-devtcp-query-beacon": (
        "suspicious 27: /dev/tcp polling (T1071.001) and the host facts in the query string "
        "(host-facts-sent-out, T1082) are both named, but it stays below malicious"
    ),
    "h10-py-zlib-socket-dotfiles": (
        "malicious 100 only from static findings on its own planted dotfiles (T1552.001); the "
        "runtime read and the zlib send over a raw socket are not called exfiltration (no T1041, "
        "no collection-exfiltration)"
    ),
    "h12-py-resolver-label-exfil": (
        "malicious 70: the hex-label DNS exfiltration through the libc resolver is named "
        "(dns-tunnel-exfiltration, T1048.003), but the kubeconfig and .env it read are not "
        "named as credentials in files (no T1552.001)"
    ),
    "h14-c-sendfile-shadow-tcp53": (
        "clean 6: the /etc/shadow read is named (password-hashes-read, T1003.008, 6 points), but "
        "its sendfile(2) into a TCP socket to port 53 is not followed (no T1041, no "
        "collection-exfiltration)"
    ),
    "h18-busybox-awk-shadow-ftpput": (
        "clean 6: awk's /etc/shadow read is named (T1003.008, 6 points) but the FTP upload is "
        "not (no T1048.003, no collection-exfiltration); the simulator does not answer PASV, so "
        "the file never leaves"
    ),
    "h21-c-nftw-keys-udp123": (
        "malicious 100: the sandbox's bait key found by content and sent is seen, but as "
        "exfiltration over a C2 channel (T1041: credentials-sent-out, honeytoken-exfiltration); "
        "keys sent as UDP datagrams to port 123 with no C2 are not named as an alternative "
        "protocol (no T1048)"
    ),
    "h22-busybox-portscan-redis-sshkey": (
        "clean 10: a 40-port loopback scan, a Redis sweep and three Redis authorized_keys "
        "writes raise nothing but a delay (no T1046, no propagation)"
    ),
    "h23-py-container-cloud-metadata": (
        "malicious 68 (metadata credentials, T1552.005) but the container discovery before it "
        "and the POST of what the metadata services answered are not named (no T1613, T1041; "
        "no propagation, collection-exfiltration)"
    ),
    "h24-perl-discovery-report-fetch-run": (
        "malicious 100 (download-write-exec) and its network, owner and system discovery are "
        "named (T1016, T1033, T1082), but the process list read from /proc/*/comm is not (no "
        "T1057)"
    ),
    "h26-busybox-strings-environ-nc": (
        "suspicious 40: strings over every /proc/PID/environ is named (process-memory-read, "
        "T1003.007), but the matches sent through nc are not followed (no T1041, no "
        "collection-exfiltration)"
    ),
    "h27-socat-openssl-tar-kube-pki": (
        "suspicious 15: only the shipped keys (static T1552.004); tar of /etc/kubernetes into "
        "socat's TLS address is neither collection nor exfiltration (no T1560.001, T1041)"
    ),
    "h28-perl-udp-packed-beacon": (
        "clean 6: the packed host facts are seen leaving (host-facts-sent-out, T1082), but four "
        "UDP datagrams to a raw port are not called C2 over a non-application protocol (no "
        "T1095) and the verdict is clean"
    ),
    "h29-node-dns-base32-beacon": (
        "clean 10: five lookups of names whose labels are base32 host facts raise nothing but "
        "the delay (no T1071.004, T1082)"
    ),
    "n02-py-health-reporter": (
        "benign health reporter called suspicious 21: its fixed 15 s heartbeat POST to its "
        "status service is taken for HTTP C2 polling (T1071.001) plus the delay (T1497.003)"
    ),
    "n04-node-tls-own-key-secrets": (
        "benign service called suspicious 15: the TLS key it ships and reads for its own "
        "loopback server counts as a private key in the image (T1552.004)"
    ),
    "n08-bash-ddns-updater-jitter": (
        "benign DDNS updater called suspicious 24: its curl update every 60 s is taken for "
        "HTTP C2 polling (T1071.001), a downloader (T1105) and a delay (T1497.003), beside "
        "informational discovery (T1082)"
    ),
    "n09-py-imds-instance-identity": (
        "benign instance-identity lookup called malicious 68: asking the metadata service for "
        "an IMDSv2 token and the instance id, region and zone (no credentials path) counts as "
        "cloud credential theft (T1552.005, high)"
    ),
}


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        # raises=AssertionError: a build or sandbox failure is not the known miss
        pytest.param(n, marks=pytest.mark.xfail(raises=AssertionError, strict=True, reason=r))
        if (r := HOLDOUT_KNOWN_MISSES.get(n))
        else n
        for n in sorted(HOLDOUT_EXPECTATIONS)
    ],
)
def test_holdout_sample_is_judged_as_expected(name, wild_build_dir, corpus_cache):
    expectation = HOLDOUT_EXPECTATIONS[name]
    archive = _wild_archive(name, wild_build_dir, HOLDOUT)
    outcome = run_scenario(expectation, archive, corpus_cache)
    assert not outcome.error, outcome.error
    missing = outcome.missing_categories + outcome.missing_techniques
    assert outcome.ok, (
        f"{name}: verdict {outcome.verdict} (score {outcome.score}), expected "
        f"{expectation.acceptable}; found {outcome.techniques}; missing {missing}"
    )
