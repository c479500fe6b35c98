"""Operator entry points for the catalog schema (``store-kit db sync|version``)."""

from store_kit.catalog.api import Catalog


def db_sync(url):
    """Upgrade the catalog at ``url`` to the newest revision; returns it."""
    db = Catalog(url)
    try:
        db.create_schema()
        return db.schema_version()
    finally:
        db.dispose()


def db_version(url):
    """The revision the catalog at ``url`` is at (None if never migrated)."""
    db = Catalog(url)
    try:
        return db.schema_version()
    finally:
        db.dispose()
