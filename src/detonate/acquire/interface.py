"""The one thing acquire needs from the outside world: a source that can show a reference's
top-level manifest and copy the image into a local OCI layout. skopeo implements it today."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from detonate.acquire.reference import Reference
from detonate.model.image import Platform
from detonate.progress import Progress


class ImageSource(ABC):
    @abstractmethod
    def raw_manifest(self, reference: Reference) -> bytes:
        """The manifest or image index exactly as the source serves it (its digest is the
        image's digest). Raises an AcquireError subclass."""

    @abstractmethod
    def raw_config(self, reference: Reference) -> bytes:
        """The image config blob exactly as the source holds it. Copying a Docker v2 image into
        an OCI layout rewrites its config and drops Docker-only fields (Healthcheck, Shell,
        OnBuild), so acquire keeps this original beside the converted one."""

    @abstractmethod
    def copy(
        self,
        reference: Reference,
        layout: Path,
        ref_name: str,
        platform: Platform,
        progress: Progress,
    ) -> None:
        """Copy the image for `platform` into the OCI layout `layout` under `ref_name`, reusing
        blobs already there. Raises an AcquireError subclass."""
