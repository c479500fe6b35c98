"""The image catalog: ``from store_kit.catalog import Catalog``."""

from store_kit.catalog.api import Catalog

__all__ = ['Catalog']
