"""A real run: setting a file's times (utimensat under busybox touch) is a typed event with the
times asked for, whether explicit (`-d`), copied from another file (`-r`) or now."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from detonate.model.events import FileTimesChanged
from detonate.model.filesystem import Rootfs

from .busybox_image import FAST, PROGRESS, image_running
from .test_containment import assert_nothing_left

pytestmark = pytest.mark.sandbox

TOUCHES = (
    "echo x > /tmp/f; busybox touch -d '2019-03-04 10:22:00' /tmp/f; "
    "busybox touch -r /etc/motd /tmp/f; busybox touch /tmp/g"
)


def test_time_setting_calls_are_events_with_the_times_asked_for(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    from detonate.sandbox.run import detonate

    image = image_running("/bin/sh", "-c", TOUCHES)
    result = detonate(image, busybox_rootfs, FAST, tmp_path, PROGRESS)

    assert result.run.exit_code == 0
    dated, copied, now = [e for e in result.events if isinstance(e, FileTimesChanged)]
    assert (dated.path, dated.argv[:2]) == ("/tmp/f", ("busybox", "touch"))
    # busybox reads -d in the container's zone: UTC
    assert dated.modify_time == dated.access_time == 1551694920.0 and not dated.now
    assert dated.modify_age is not None and dated.modify_age > 7 * 365 * 86400
    motd = os.stat(busybox_rootfs.root / "etc" / "motd")
    assert copied.path == "/tmp/f" and copied.modify_time == pytest.approx(motd.st_mtime, abs=1e-6)
    assert (now.path, now.now, now.modify_time, now.modify_age) == ("/tmp/g", True, None, None)
    assert_nothing_left(result)
