"""factory: harmless test images from busybox-static and chosen files, without any daemon.

spec = ImageSpec("demo", layers=(busybox_layer(), LayerSpec((FileSpec("/x", b"hi"),))))
write_oci_layout(spec, out / "demo.oci")          # skopeo: oci:out/demo.oci:latest
write_oci_archive(spec, out / "demo.oci.tar")     # skopeo: oci-archive:out/demo.oci.tar
write_docker_archive(spec, out / "demo.tar")      # skopeo: docker-archive:out/demo.tar
"""

from detonate.factory.build import BuiltSample, build_all, build_sample
from detonate.factory.busybox import busybox_layer, host_busybox
from detonate.factory.layers import (
    BuiltLayer,
    build_layer,
    build_layers,
    gzip_deterministic,
    raw_tar,
)
from detonate.factory.oci import (
    BuiltImage,
    build_image,
    oci_layout,
    write_docker_archive,
    write_oci_archive,
    write_oci_layout,
)
from detonate.factory.recipe import load_recipe
from detonate.factory.spec import (
    BlobLayer,
    FileSpec,
    Healthcheck,
    ImageSpec,
    LayerSpec,
    RawEntry,
    RawLayer,
)

__all__ = [
    "BlobLayer",
    "BuiltImage",
    "BuiltLayer",
    "BuiltSample",
    "FileSpec",
    "Healthcheck",
    "ImageSpec",
    "LayerSpec",
    "RawEntry",
    "RawLayer",
    "build_all",
    "build_image",
    "build_layer",
    "build_layers",
    "build_sample",
    "busybox_layer",
    "gzip_deterministic",
    "host_busybox",
    "load_recipe",
    "oci_layout",
    "raw_tar",
    "write_docker_archive",
    "write_oci_archive",
    "write_oci_layout",
]
