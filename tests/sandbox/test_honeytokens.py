from __future__ import annotations

from pathlib import Path

from detonate.model.options import CONTAINER_ID_BASE
from detonate.sandbox.honeytokens import (
    Home,
    homes_for,
    kubernetes_env,
    plant_honeytokens,
)


def test_bait_is_planted_inside_the_rootfs_owned_by_its_user_without_overwriting(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "rootfs", tmp_path / "host"
    (root / "run").mkdir(parents=True)
    (root / "var").mkdir()
    (root / "var" / "run").symlink_to("../run")
    (root / "root" / ".ssh").mkdir(parents=True)
    (root / "root" / ".ssh" / "id_rsa").write_text("the image's own key")
    (root / "root" / ".aws").symlink_to(str(outside))  # absolute: the container's /…/host
    (root / "home" / "app").mkdir(parents=True)

    planted = plant_honeytokens(root, homes_for(1000, 1000, ("HOME=/home/app",)))

    paths = {t.path for t in planted.tokens}
    assert "/root/.ssh/id_rsa" not in paths  # left alone
    assert (root / "root" / ".ssh" / "id_rsa").read_text() == "the image's own key"
    assert not outside.exists()  # the link was resolved inside the rootfs
    assert (root / str(outside).lstrip("/") / "credentials").is_file()
    app_key = root / "home" / "app" / ".ssh" / "id_rsa"
    assert (
        app_key.stat().st_uid == CONTAINER_ID_BASE + 1000
        and app_key.stat().st_mode & 0o777 == 0o600
    )
    assert (root / "home" / "app" / ".ssh").stat().st_uid == CONTAINER_ID_BASE + 1000
    token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert token in paths and (root / "run/secrets/kubernetes.io/serviceaccount/token").is_file()
    # reached also through the image's link: the tracer watches both spellings
    assert planted.watched[token] == planted.watched[token.removeprefix("/var")] == "kube-token"
    for t in planted.tokens:
        if t.marker:
            host = root / planted_host(root, t.path)
            assert t.marker.encode() in host.read_bytes()


def planted_host(root: Path, path: str) -> str:
    from detonate.sandbox.netsim.rootfs_files import resolve_in_root

    return str(resolve_in_root(root, path).relative_to(root))


def test_markers_differ_between_runs_and_kube_env_keeps_the_images_own(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        runs.append(
            {
                t.kind: t.marker
                for t in plant_honeytokens(tmp_path / name, [Home("/root", 0, 0)]).tokens
            }
        )
    assert all(runs[0][k] != runs[1][k] for k in runs[0] if runs[0][k])
    env = kubernetes_env(("KUBERNETES_SERVICE_PORT=6443", "PATH=/bin"))
    assert "KUBERNETES_SERVICE_PORT=6443" in env and "KUBERNETES_SERVICE_PORT=443" not in env
    assert "KUBERNETES_SERVICE_HOST=kubernetes.default.svc" in env
    assert homes_for(0, 0, ("HOME=/root",)) == (Home("/root", 0, 0),)
