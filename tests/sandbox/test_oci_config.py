from __future__ import annotations

from pathlib import Path

import pytest

from detonate.errors import SandboxError
from detonate.model.image import ImageConfig
from detonate.model.options import CONTAINER_ID_BASE, SandboxOptions
from detonate.sandbox.oci_config import (
    DOCKER_CAPABILITIES,
    process_spec,
    resolve_user,
    runtime_config,
)


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:50::/srv:/x\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:\nstaff:x:50:\nops:x:70:\n")
    return tmp_path


def test_entrypoint_cmd_env_user_workdir_combine_like_docker(rootfs: Path) -> None:
    config = ImageConfig(
        entrypoint=("/entry",), cmd=("--serve",), env=("A=1", "PATH=/bin"), user="app",
        working_dir="/srv",
    )  # fmt: skip
    spec = process_spec(config, SandboxOptions(env=("A=2",)), rootfs)
    assert spec.args == ("/entry", "--serve")
    assert spec.env[:2] == ("A=2", "PATH=/bin") and "HOME=/srv" in spec.env
    assert (spec.uid, spec.gid, spec.cwd) == (1000, 50, "/srv")
    overridden = process_spec(config, SandboxOptions(entrypoint=("/bin/sh",)), rootfs)
    assert overridden.args == ("/bin/sh",)  # --entrypoint drops the image's CMD
    assert process_spec(config, SandboxOptions(cmd=("x",)), rootfs).args == ("/entry", "x")


def test_user_forms_and_unknown_names(rootfs: Path) -> None:
    assert resolve_user("", rootfs) == (0, 0, "/root")
    assert resolve_user("app:ops", rootfs)[:2] == (1000, 70)
    assert resolve_user("4242:4243", rootfs)[:2] == (4242, 4243)
    with pytest.raises(SandboxError):
        resolve_user("ghost", rootfs)


def test_passwd_symlink_out_of_the_rootfs_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(SandboxError):
        resolve_user("root", tmp_path)  # would resolve via the host's passwd otherwise


def test_runtime_config_is_locked_down(rootfs: Path) -> None:
    spec = process_spec(ImageConfig(cmd=("/x",)), SandboxOptions(), rootfs)
    options = SandboxOptions(memory_bytes=1 << 28, pids=99, cpus=0.5)
    config = runtime_config(spec, options, "/detonate-x")
    linux = config["linux"]
    namespaces = {n["type"] for n in linux["namespaces"]}
    assert namespaces == {"pid", "network", "ipc", "uts", "mount", "user", "cgroup"}
    assert all("path" not in n for n in linux["namespaces"])  # fresh, never the host's
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": CONTAINER_ID_BASE, "size": 65536}]
    assert set(config["process"]["capabilities"]["bounding"]) == set(DOCKER_CAPABILITIES)
    assert "CAP_SYS_ADMIN" not in config["process"]["capabilities"]["bounding"]
    assert config["process"]["noNewPrivileges"] is True
    assert not [m for m in config["mounts"] if m["type"] == "bind"]  # no host mounts
    (cgroup,) = [m for m in config["mounts"] if m["type"] == "cgroup"]
    assert cgroup["destination"] == "/sys/fs/cgroup" and "ro" in cgroup["options"]
    assert "/proc/sysrq-trigger" in linux["readonlyPaths"] and "/proc/kcore" in linux["maskedPaths"]
    resources = linux["resources"]
    assert resources["memory"]["limit"] == 1 << 28 and resources["pids"]["limit"] == 99
    assert resources["cpu"]["quota"] == 50_000
    denied = linux["seccomp"]["syscalls"][0]["names"]
    assert {"mount", "init_module", "ptrace", "bpf", "setns", "unshare"} <= set(denied)
