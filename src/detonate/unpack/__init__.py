"""unpack: layers → one cached, read-only directory per layer and an index of every file.

    rootfs = unpack(image, cache_dir, limits, progress)

Modules, in the order data flows through them:
    layer_stream   blob → digest check → gunzip/unzstd → diff_id check, bomb limit
    apply_layer    tar entries → whiteouts, hostile names and limits → tree + disk
    merged_tree    the merged filesystem in memory; resolves paths inside the image root
    layer_writer   writes one layer's dir as an overlay layer (whiteouts, opaque dirs)
    disk, beneath  writes through directory fds the kernel keeps beneath the root
    layer_store    cache_dir/layers/<chain id>/, built aside, renamed into place, checked on use
    layer_index    the saved record of one layer (entries, whiteouts, opaque dirs, issues)
    layer_merge    the image's merged index from its layers' records, without reading files
    overlay_lowers the layer dirs as overlay lower dirs (merging groups past the mount limit)
    tree_removal   rm -rf for hostile trees
"""

from detonate.unpack.unpacker import unpack

__all__ = ["unpack"]
