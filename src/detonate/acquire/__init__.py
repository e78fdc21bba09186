"""acquire: image reference → manifest, config and layers in the local OCI layout cache.

    image = acquire("docker://registry.test/app:1", cache_dir, AcquireOptions(), NullProgress())

`ImageSource` (interface.py) is the seam; `SkopeoSource` (skopeo.py) implements it.
"""

from detonate.acquire.acquire import acquire
from detonate.acquire.interface import ImageSource
from detonate.acquire.reference import Reference, parse_reference
from detonate.acquire.skopeo import SkopeoSource

__all__ = ["ImageSource", "Reference", "SkopeoSource", "acquire", "parse_reference"]
