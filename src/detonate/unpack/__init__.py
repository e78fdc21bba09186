"""unpack: layers in order → a rootfs directory and an index of every file (safe tar).

    rootfs = unpack(image, cache_dir, limits, progress)

Modules, in the order data flows through them:
    layer_stream   blob → digest check → gunzip/unzstd → diff_id check, bomb limit
    apply_layer    tar entries → whiteouts, hostile names and limits → tree + disk
    merged_tree    the merged filesystem in memory; resolves paths inside the image root
    disk, beneath  writes through directory fds the kernel keeps beneath the root
    rootfs_cache   cache_dir/rootfs/<chain id>/, built aside and renamed into place
    index_file     the saved file index
"""

from detonate.unpack.unpacker import unpack

__all__ = ["unpack"]
