"""Blob digests and diff_ids are verified while streaming; unreadable layers are MalformedLayer;
unknown media types are refused."""

from __future__ import annotations

import gzip

import pytest
from unpack_images import OCI_GZIP, OCI_TAR, OCI_ZSTD, Layer, compress, write_image

from detonate.errors import DigestMismatch, MalformedLayer, UnsupportedMediaType


def test_blob_that_does_not_match_its_digest(tmp_path, unpack_image):
    image = write_image(tmp_path / "blobs", [Layer().file("a", b"x")])
    path = image.blob_path(image.layers[0].digest)
    path.write_bytes(compress(Layer().file("a", b"tampered").tar(), OCI_GZIP))
    with pytest.raises(DigestMismatch, match="does not match its digest"):
        unpack_image(image)


def test_layer_that_does_not_match_its_diff_id(tmp_path, unpack_image):
    from dataclasses import replace

    image = write_image(tmp_path / "blobs", [Layer().file("a", b"x")])
    wrong = replace(image.config, diff_ids=("sha256:" + "f" * 64,))
    with pytest.raises(DigestMismatch, match="image config says"):
        unpack_image(replace(image, config=wrong))


def test_layers_without_diff_ids_still_unpack(unpack_layers):
    rootfs = unpack_layers([Layer().file("a", b"x")], diff_ids=False)
    assert (rootfs.root / "a").read_bytes() == b"x"


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"this is not a layer at all" * 40, id="garbage"),
        pytest.param(
            gzip.compress(Layer().file("a", b"x" * 5000).tar())[:-40], id="truncated-gzip"
        ),
        pytest.param(gzip.compress(b"\x01" * 2048), id="gzip-of-garbage"),
    ],
)
def test_unreadable_layers_are_malformed(unpack_layers, blob):
    with pytest.raises(MalformedLayer):
        unpack_layers([], blobs=[blob])


def test_truncated_zstd_is_malformed(unpack_layers):
    blob = compress(Layer().file("a", bytes(range(256)) * 64).tar(), OCI_ZSTD)[:-30]
    with pytest.raises(MalformedLayer):
        unpack_layers([], blobs=[blob], media_type=OCI_ZSTD)


def test_truncated_tar_inside_a_file_is_malformed(unpack_layers):
    tar = Layer().file("a", b"y" * 5000).tar()[:2048]
    with pytest.raises(MalformedLayer, match="truncated"):
        unpack_layers([], blobs=[tar], media_type=OCI_TAR)


def test_garbage_header_after_a_good_entry_is_malformed(unpack_layers):
    tar = Layer().file("a", b"ok").tar()
    tar = tar[:1024] + b"\xff" * 512 + bytes(1024)
    with pytest.raises(MalformedLayer, match="garbage"):
        unpack_layers([], blobs=[tar], media_type=OCI_TAR)


def test_unknown_media_type_is_refused(unpack_layers):
    with pytest.raises(UnsupportedMediaType):
        unpack_layers([Layer().file("a")], media_type="application/vnd.example.layer.v1.squashfs")


def test_gzip_layer_labelled_as_plain_tar_still_unpacks(tmp_path, unpack_image):
    # some tools label layers wrongly; the bytes decide (the digest covers them anyway)
    from dataclasses import replace

    image = write_image(tmp_path / "blobs", [Layer().file("a", b"x")], diff_ids=True)
    relabelled = replace(image, layers=(replace(image.layers[0], media_type=OCI_TAR),))
    assert (unpack_image(relabelled).root / "a").read_bytes() == b"x"
