"""store_kit: image data in several stores at once, and the image catalog.

The public face; everything here is a re-export.  See ``doc/`` and the
"Public contract" in DESIGN.md.
"""

from store_kit.config import register_opts
from store_kit.driver import AddResult, Capabilities, Store
from store_kit.registry import (StoreRegistry, create_stores,
                                get_location_map, get_registry)
from store_kit import exceptions

__all__ = ['register_opts', 'create_stores', 'get_location_map',
           'get_registry', 'StoreRegistry', 'Store', 'AddResult',
           'Capabilities', 'exceptions']
